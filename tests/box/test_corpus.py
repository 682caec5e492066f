"""The hard corpus (tests/corpus.py) through the box's real pipeline: 0 misfiled, at least 90% of
the documents that carry enough identifiers filed without a person, with a register and without,
and at least 95% typed right. bench/filing.py prints the same figures."""

import pytest

from tests import corpus

pytestmark = pytest.mark.ocr


@pytest.mark.parametrize("with_register", [True, False], ids=["with register", "without register"])
def test_the_hard_corpus_is_never_misfiled_and_mostly_filed_by_itself(box, tmp_path, with_register):
    docs = corpus.build()
    report = corpus.evaluate(docs, corpus.run_box(box, docs, tmp_path, with_register), with_register)
    assert report.misfiled == []
    assert report.review_without_reason == []
    assert report.auto_rate >= 0.9, report.missed
    assert report.type_accuracy >= 0.95
