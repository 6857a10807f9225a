"""Running the command line in-process, as a user's shell would: the exit code and what was printed."""
from cli import main


def run_main(capsys, args):
    """``(exit code, captured output)`` of ``edgenas ARGS``."""
    try:
        main(args)
        code = 0
    except SystemExit as e:
        code = e.code
    return code, capsys.readouterr()
