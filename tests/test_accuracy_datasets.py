"""Label maps, mapping files and dataset listing, in process."""

import numpy as np
import pytest

from seg_synth import LABEL, PRED, save_png, write_dataset
from segbench.accuracy import labelmap
from segbench.accuracy.datasets import open_dataset, read_label
from segbench.errors import InputError, UsageError


def test_cityscapes_label_ids_become_the_19_train_ids():
    lm = labelmap.cityscapes()
    raw = np.array([[7, 8, 11, 12, 13, 17, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 31, 32, 33]], dtype=np.uint16)
    assert lm.apply(raw, "x").tolist() == [list(range(19))]
    void = np.array([[0, 1, 2, 3, 4, 5, 6, 9, 10, 14, 15, 16, 18, 29, 30, 255]], dtype=np.uint16)
    assert (lm.apply(void, "x") == 255).all()
    with pytest.raises(InputError, match="label values 34, 40 are not Cityscapes labels"):
        lm.apply(np.array([[34, 40, 7]], dtype=np.uint16), "x")


def test_voc_keeps_0_to_20_and_ignores_255():
    lm = labelmap.voc()
    assert lm.apply(np.array([[0, 20, 255]], dtype=np.uint16), "x").tolist() == [[0, 20, 255]]
    with pytest.raises(InputError, match="not Pascal VOC labels"):
        lm.apply(np.array([[21]], dtype=np.uint16), "x")


def test_mapping_file_rules(tmp_path):
    f = tmp_path / "m.txt"
    f.write_text("# mine\n1-3 2 things   # three raw ids, one class\n4 ignore\n5 0 zero class\n")
    lm = labelmap.read_mapping(f)
    assert lm.classes == ("zero class", None, "things")  # class 1 has no raw label: not scored
    assert lm.apply(np.array([[1, 2, 3, 4, 5, 6, 999]], dtype=np.uint16), "x").tolist() == [[2, 2, 2, 255, 0, 255, 255]]


@pytest.mark.parametrize("text,message", [
    ("1\n", "expected `<raw>"), ("a 1\n", "not numbers"), ("1 255\n", "class id 255 must be within 0..254"),
    ("5-2 1\n", "raw label range 5-2"), ("# nothing\n", "no mapping rules"), ("1-2 1\n2 3\n", "raw label 2 is mapped twice"),
])
def test_bad_mapping_files(tmp_path, text, message):
    f = tmp_path / "m.txt"
    f.write_text(text)
    with pytest.raises(UsageError, match=message):
        labelmap.read_mapping(f)


def test_palette_labels_are_read_as_indices_not_colours(tmp_path):
    raw = np.array([[0, 15, 255], [20, 1, 0]])
    save_png(tmp_path / "l.png", raw, palette=True)
    assert read_label(tmp_path / "l.png", labelmap.voc()).tolist() == raw.tolist()


def test_voc_image_list(tmp_path):
    root = write_dataset(tmp_path, "voc", [(LABEL, PRED), (LABEL, PRED)])
    listing = tmp_path / "mine.txt"
    listing.write_text("2007_000001\n")
    ds = open_dataset("voc", root, image_list=listing)
    assert [s.id for s in ds.samples] == ["2007_000001"] and ds.root.name == "VOC2012"
    listing.write_text("2007_000001\n2008_123456\n")
    with pytest.raises(InputError, match="lists '2008_123456'"):
        open_dataset("voc", root, image_list=listing)
    with pytest.raises(InputError, match="no such image list"):
        open_dataset("voc", root, split="train")


def test_unknown_split_names_the_ones_there(tmp_path):
    root = write_dataset(tmp_path, "cityscapes", [(LABEL, PRED)])
    with pytest.raises(InputError, match="--split one of: val"):
        open_dataset("cityscapes", root, split="test")
    assert [s.id for s in open_dataset("cityscapes", root).samples] == ["aachen_000000_000000"]
