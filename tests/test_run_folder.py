import csv

from edge_icl.experiment.run_folder import RunFolder


def test_rows_go_to_the_file_they_name_even_interleaved(tmp_path):
    folder = RunFolder(tmp_path, "run")
    folder.append_row({"a": 1}, "one.csv")
    folder.append_row({"b": 2}, "two.csv")
    folder.append_row({"a": 3}, "one.csv")
    # flushed row by row: readable before close
    assert list(csv.DictReader(open(folder.path / "one.csv"))) == [{"a": "1"}, {"a": "3"}]
    folder.close()
    assert list(csv.DictReader(open(folder.path / "two.csv"))) == [{"b": "2"}]
