"""Feature-set revisions (``lia_dask.features.registry``): recorded with every table and artifact, checked."""
from __future__ import annotations

import pytest

from lia_dask.errors import InputError
from lia_dask.features.physical import PHYSICAL_LS_SET, PHYSICAL_REVISION, PHYSICAL_SET
from lia_dask.features.registry import (DEFAULT_FEATURE_SET, UNRECORDED, FeatureSettings, check_revision,
                                        current_revision,
                                        get_feature_set, model_feature_settings)


def test_physical_sets_carry_the_block_revision_and_microlia_none():
    assert get_feature_set(PHYSICAL_SET).revision == PHYSICAL_REVISION
    assert get_feature_set(PHYSICAL_LS_SET).revision == PHYSICAL_REVISION
    assert current_revision(DEFAULT_FEATURE_SET) == ""


def test_to_dict_records_the_code_revision_and_round_trips():
    d = FeatureSettings(feature_set=PHYSICAL_SET).to_dict()
    assert d["revision"] == PHYSICAL_REVISION
    assert FeatureSettings.from_dict(d).revision == PHYSICAL_REVISION
    assert model_feature_settings(d, None, "mag", "model m").feature_set == PHYSICAL_SET


def test_a_model_of_another_revision_is_refused_naming_it():
    d = FeatureSettings(feature_set=PHYSICAL_SET).to_dict()
    d["revision"] = "physical-2"
    with pytest.raises(InputError, match=r"model abc.*physical-2.*retrain"):
        model_feature_settings(d, None, "mag", "model abc")


def test_an_unrecorded_revision_is_refused_for_physical_and_accepted_for_microlia():
    d = FeatureSettings(feature_set=PHYSICAL_SET).to_dict()
    del d["revision"]
    with pytest.raises(InputError, match=r"model old records no revision.*retrain"):
        check_revision(d, "model old")
    m = FeatureSettings().to_dict()
    del m["revision"]
    assert model_feature_settings(m, None, "mag", "model old").feature_set == DEFAULT_FEATURE_SET


def test_table_and_model_revisions_must_agree_only_when_both_are_recorded():
    a = FeatureSettings(feature_set=PHYSICAL_SET, revision="physical-2")
    b = FeatureSettings(feature_set=PHYSICAL_SET, revision=PHYSICAL_REVISION)
    assert any(x.startswith("revision") for x in a.differences(b))
    assert FeatureSettings(feature_set=PHYSICAL_SET).differences(b) == []


def test_old_settings_re_saved_stay_unrecorded_and_are_still_refused():
    """Settings read from a table or artifact without a revision (e.g. to train on an old feature table)
    must not be stamped with today's revision when saved again: the guard would be bypassed."""
    old = FeatureSettings(feature_set=PHYSICAL_SET).to_dict()
    del old["revision"]
    again = FeatureSettings.from_dict(old).to_dict()
    assert again["revision"] == UNRECORDED
    with pytest.raises(InputError, match=r"model new records no revision.*retrain"):
        model_feature_settings(again, None, "mag", "model new")
    m = FeatureSettings().to_dict()
    del m["revision"]
    assert model_feature_settings(FeatureSettings.from_dict(m).to_dict(), None, "mag", "m").feature_set == DEFAULT_FEATURE_SET
    assert FeatureSettings.from_dict(old).differences(FeatureSettings(feature_set=PHYSICAL_SET)) == []
