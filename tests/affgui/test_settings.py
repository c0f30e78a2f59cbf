"""Settings: one typed object, JSON in the config folder, fresh for every test."""

from __future__ import annotations

import getpass
import json

from affgui import settings as st


def test_defaults_and_location(tmp_path):
    s = st.get_settings()
    assert s.reader == getpass.getuser()
    assert s.recent_projects == [] and s.auto_advance is True
    assert st.settings_path() == tmp_path / "config" / "settings.json"
    assert not st.settings_path().exists()  # created lazily, on first save


def test_saved_settings_are_read_back():
    s = st.get_settings()
    s.reader = "dr-who"
    s.auto_advance = False
    s.add_recent("/a/One.affproj")
    path = st.save_settings()
    assert json.loads(path.read_text())["reader"] == "dr-who"
    st.reset_settings()
    again = st.get_settings()
    assert again is not s
    assert (again.reader, again.auto_advance, again.recent_projects) == \
        ("dr-who", False, ["/a/One.affproj"])


def test_each_test_starts_from_defaults():
    # test_saved_settings_are_read_back wrote reader "dr-who" into its own tmp folder
    assert st.get_settings().reader == getpass.getuser()


def test_recent_projects_are_unique_newest_first_and_bounded():
    s = st.Settings()
    for k in range(st.MAX_RECENT + 3):
        s.add_recent(f"/p/{k}.affproj")
    s.add_recent("/p/5.affproj")
    assert s.recent_projects[0] == "/p/5.affproj"
    assert len(s.recent_projects) == st.MAX_RECENT
    assert s.recent_projects.count("/p/5.affproj") == 1
    assert s.last_project == "/p/5.affproj"
    s.remove_recent("/p/5.affproj")
    assert "/p/5.affproj" not in s.recent_projects


def test_bad_files_and_values_fall_back_to_defaults():
    path = st.settings_path()
    path.parent.mkdir(parents=True)
    path.write_text("{not json")
    assert st.load_settings() == st.Settings()
    path.write_text(json.dumps({"reader": 42, "auto_advance": "yes", "recent_projects": ["/x", 3],
                                "splitter_sizes": [300, 700], "unknown": 1, "version": 99}))
    s = st.load_settings()
    assert s.reader == getpass.getuser() and s.auto_advance is True
    assert s.recent_projects == [] and s.splitter_sizes == [300, 700]
    assert s.version == st.SETTINGS_VERSION


def test_env_var_moves_the_config_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("AFFWB_CONFIG_DIR", str(tmp_path / "elsewhere"))
    st.save_settings(st.Settings(reader="x"))
    assert (tmp_path / "elsewhere" / "settings.json").is_file()


def test_platformdirs_is_the_default(monkeypatch):
    import platformdirs

    monkeypatch.delenv("AFFWB_CONFIG_DIR")
    monkeypatch.delenv("AFFWB_DATA_DIR")
    assert st.config_dir() == platformdirs.user_config_path("aff-workbench")
    assert st.demo_project_path() == \
        platformdirs.user_data_path("aff-workbench") / "demo" / "Demo.affproj"


def test_key_bindings_round_trip_and_bad_values_fall_back():
    s = st.get_settings()
    s.key_bindings = {"label.AFF": "Q", "view.ruler": "Shift+M"}
    st.save_settings()
    st.reset_settings()
    assert st.get_settings().key_bindings == {"label.AFF": "Q", "view.ruler": "Shift+M"}
    bad = st.Settings.from_dict({"key_bindings": {"label.AFF": 5}, "reader": "x"})
    assert bad.key_bindings == {} and bad.reader == "x"
    assert st.Settings.from_dict({"key_bindings": ["Q"]}).key_bindings == {}
