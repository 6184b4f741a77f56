from redcat import __version__
from redcat.cli.main import main


def test_version(capsys):
    assert main(["version"]) == 0
    assert capsys.readouterr().out.strip() == __version__


def test_unknown_command_is_a_usage_error(capsys):
    assert main(["no-such-command"]) == 2
    assert "No such command" in capsys.readouterr().err


def test_errors_are_one_unwrapped_line_with_brackets_kept(tmp_path, capsys):
    missing = tmp_path / ("x" * 120) / "[red]store.duckdb"
    assert main(["report", "--brand", "B1", "--store", str(missing)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "[red]store.duckdb does not exist" in err


def test_commands_register_once_however_often_main_runs(capsys):
    from redcat.cli.main import app

    for _ in range(3):
        assert main(["version"]) == 0
    names = [group.name for group in app.registered_groups]
    assert len(names) == len(set(names))
    commands = [command.name for command in app.registered_commands]
    assert len(commands) == len(set(commands))
