"""The run viewer: a local, read-only web page over run folders (`edge-icl view`).

discovery (which folders are runs, the run list) -> run_data (one run as the page reads
it; seed_pairs: its arms' differences over seeds, the compare page's interval) -> page_files (the page and its data scripts) -> server (HTTP, 127.0.0.1) or bundle
(a static folder for file://). The page itself is static/ (HTML, CSS, plain JS; no
library, nothing from the network).
"""

from edge_icl.viewer.bundle import BundleError, BundleReport, write_bundle
from edge_icl.viewer.discovery import NoRunsError, find_run_folders, run_list
from edge_icl.viewer.run_data import read_run
from edge_icl.viewer.server import ViewerServer, in_thread, make_server

__all__ = ["BundleError", "BundleReport", "NoRunsError", "ViewerServer", "find_run_folders", "in_thread", "make_server", "read_run", "run_list", "write_bundle"]
