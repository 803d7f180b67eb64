"""Child processes of a run: sys.executable, multiprocessing (fork, spawn, forkserver), fork.

Most tests simulate a run host in a child interpreter (``HOST`` below): it gives a client
connection served from memory to a RemoteMetaPathFinder in that process only, installs
``remote_file_source.processes``, and executes each job the way the worker runs a script: a
fresh ``__main__`` whose ``__file__`` (and ``sys.argv[0]``) is a client path that does not
exist here, sys.stdout/sys.stderr replaced by capture objects without a file descriptor (like
the worker's ``_RunOutput``), ``begin_run``/``end_run`` around it. The host's own fd 1 and 2
are the pipes the test reads, as in the real host where they go to the client.

The host is the Debian interpreter matching the embedded libpython when it exists, else the
interpreter running the tests.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import types
from dataclasses import dataclass

import pytest

import remote_file_source
from remote_file_source import processes
from rfs_fakes import CLIENT_ROOT, client_path

TESTS_DIR = os.path.dirname(os.path.abspath(__file__))
PACKAGE_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(remote_file_source.__file__)))
DEBIAN_PYTHON = "/usr/bin/python3.11"
#: RFS_TEST_HOST_PYTHON runs the simulated host under another 3.11 (another patch release).
HOST_PYTHON = os.environ.get("RFS_TEST_HOST_PYTHON") or (
    DEBIAN_PYTHON if os.access(DEBIAN_PYTHON, os.X_OK) else sys.executable
)
SCRIPT = client_path("job.py")
BOGUS_EXECUTABLE = "/rfs-test-nowhere/bin/python3"

#: Seconds within which a refused spawn must fail in the parent.
PROMPT = 5.0

REMOTE_FILES = {
    "rfst_remote/__init__.py": "",
    "rfst_remote/work.py": textwrap.dedent(
        """\
        import os

        def square(x):
            return x * x

        class Point:
            def __init__(self, x):
                self.x = x
        """
    ),
    "rfst_remote/lazy.py": "VALUE = 'lazy'\n",
}

LOCAL_MODULE = textwrap.dedent(
    """\
    import os
    import sys

    def cube(x):
        return x ** 3

    def child_view(_):
        main = sys.modules["__main__"]
        return {
            "main_file": getattr(main, "__file__", None),
            "remote": sorted(n for n in sys.modules if n.startswith("rfst_remote")),
            "executable": sys.executable,
            "pid": os.getpid(),
        }
    """
)

HOST = r'''
import builtins, io, json, os, sys, time, traceback, types

spec = json.loads(sys.argv[1])
sys.path[:0] = spec["sys_path_front"]
if spec["pre_import_multiprocessing"]:
    import multiprocessing.spawn
sys.executable = spec["bogus_executable"]

from rfs_fakes import FakeConnection
from remote_file_source import PluginObject, RemoteMetaPathFinder
from remote_file_source import processes


class RecordingConnection(FakeConnection):
    """Logs every fetch with the pid that asked: only the host may ever ask."""

    def request_data_sync(self, request, timeout=None):
        with open(spec["requests_log"], "a") as log:
            log.write("%d %s\n" % (os.getpid(), request["params"]["module_name"]))
        return super().request_data_sync(request, timeout)


class Capture(io.TextIOBase):
    """Like the worker's _RunOutput: no file descriptor, text handed elsewhere."""

    def __init__(self):
        super().__init__()
        self.parts = []

    def writable(self):
        return True

    def write(self, text):
        self.parts.append(text)
        return len(text)


connection = RecordingConnection("conn-test", files=spec["files"])
plugin = PluginObject()
sys.meta_path.insert(0, RemoteMetaPathFinder(connection, plugin))
plugin.set_execution_context(connection.id, spec["names"])

install = dict(spec["install"])
if install.pop("with_callback", False):
    install["after_fork_in_child"] = lambda: os.write(
        1, b"callback ran in %d forked=%d\n" % (os.getpid(), processes.in_forked_child())
    )
chosen = processes.install(**install)

results = []
for job in spec["jobs"]:
    main = types.ModuleType("__main__")
    main.__file__ = job["filename"]
    main.__builtins__ = builtins
    saved = (sys.argv, sys.stdout, sys.stderr, sys.modules["__main__"])
    out, err = Capture(), Capture()
    sys.argv = [job["filename"]]
    sys.stdout, sys.stderr = out, err
    sys.modules["__main__"] = main
    processes.begin_run(main, stdout=out, stderr=err)
    result = {}
    try:
        exec(compile(job["source"], job["filename"], "exec", dont_inherit=True), main.__dict__)
        result["status"] = "ok"
    except BaseException as error:
        result.update(status="exception", type=type(error).__name__, message=str(error),
                      traceback=traceback.format_exc())
    finally:
        processes.end_run()
        sys.argv, sys.stdout, sys.stderr, sys.modules["__main__"] = saved
    result["stdout"] = "".join(out.parts)
    result["stderr"] = "".join(err.parts)
    result["report"] = main.__dict__.get("REPORT")
    results.append(result)

# After the runs: ordinary code of the host is as without this module.
import multiprocessing.spawn
from multiprocessing.reduction import ForkingPickler
after = {"start_method": multiprocessing.get_start_method(allow_none=True)}
after.update(
    prep_main=multiprocessing.spawn.get_preparation_data("x").get("init_main_from_path"),
    host_file=os.path.abspath(__file__),
    executable=sys.executable,
)
with open(spec["result"], "w") as f:
    json.dump({"host_pid": os.getpid(), "chosen": chosen, "results": results, "after": after}, f)
'''


@dataclass
class HostRun:
    host_pid: int
    chosen: str | None
    results: list[dict]
    after: dict
    stdout: str
    stderr: str
    requests: list[tuple[int, str]]

    @property
    def result(self) -> dict:
        assert len(self.results) == 1
        return self.results[0]

    @property
    def report(self):
        return self.ok(self.result)

    @staticmethod
    def ok(result: dict):
        assert result["status"] == "ok", result.get("traceback") or result
        return result["report"]


def job(source: str, filename: str = SCRIPT) -> dict:
    return {"source": textwrap.dedent(source), "filename": filename}


def run_host(
    tmp_path,
    jobs,
    *,
    install=None,
    pre_import_multiprocessing=False,
    pass_fds=(),
    timeout=120,
) -> HostRun:
    local = tmp_path / "local"
    local.mkdir(exist_ok=True)
    (local / "rfst_localwork.py").write_text(LOCAL_MODULE)
    host_script = tmp_path / "host.py"
    host_script.write_text(HOST)
    spec = {
        "sys_path_front": [str(local), TESTS_DIR, PACKAGE_ROOT],
        "pre_import_multiprocessing": pre_import_multiprocessing,
        "bogus_executable": BOGUS_EXECUTABLE,
        "files": REMOTE_FILES,
        "names": ["rfst_remote"],
        "install": install or {},
        "jobs": jobs if isinstance(jobs, list) else [jobs],
        "requests_log": str(tmp_path / "requests.log"),
        "result": str(tmp_path / "result.json"),
    }
    env = dict(os.environ, PYTHONPATH=PACKAGE_ROOT, PYTHONDONTWRITEBYTECODE="1")
    completed = subprocess.run(
        [HOST_PYTHON, str(host_script), json.dumps(spec)],
        cwd=str(tmp_path),
        env=env,
        stdin=subprocess.DEVNULL,
        pass_fds=pass_fds,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert completed.returncode == 0, completed.stderr
    data = json.loads((tmp_path / "result.json").read_text())
    requests = []
    log = tmp_path / "requests.log"
    if log.exists():
        for line in log.read_text().splitlines():
            pid, name = line.split(" ", 1)
            requests.append((int(pid), name))
    return HostRun(
        data["host_pid"], data["chosen"], data["results"], data["after"],
        completed.stdout, completed.stderr, requests,
    )


def python_version_of(path: str) -> str:
    completed = subprocess.run(
        [path, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
        capture_output=True, text=True, timeout=60,
    )
    return completed.stdout.strip()


# -- sys.executable ------------------------------------------------------------------------------


@pytest.mark.parametrize("pre_import", [False, True], ids=["fresh", "multiprocessing-imported"])
def test_sys_executable_is_a_real_interpreter_of_the_embedded_version(tmp_path, pre_import):
    run = run_host(
        tmp_path,
        job(
            """
            import os, sys, multiprocessing.spawn
            REPORT = {
                "executable": sys.executable,
                "spawn_executable": os.fsdecode(multiprocessing.spawn.get_executable()),
                "version": "%d.%d" % sys.version_info[:2],
            }
            """
        ),
        pre_import_multiprocessing=pre_import,
    )
    report = run.report
    assert report["executable"] == run.chosen != BOGUS_EXECUTABLE
    assert report["spawn_executable"] == report["executable"]
    assert os.path.isabs(report["executable"]) and os.access(report["executable"], os.X_OK)
    assert python_version_of(report["executable"]) == report["version"]
    if HOST_PYTHON == DEBIAN_PYTHON:
        assert report["executable"] == DEBIAN_PYTHON


def test_find_python_executable_prefers_the_explicit_path_of_the_right_version(tmp_path):
    real = os.path.realpath(sys.executable)
    named = tmp_path / "bin" / ("python%d.%d" % sys.version_info[:2])
    named.parent.mkdir()
    named.symlink_to(real)

    found, candidates = processes.find_python_executable(str(named), search=False)

    assert found == str(named)
    assert candidates == [str(named)]


def test_find_python_executable_rejects_missing_and_wrong_version_interpreters(tmp_path):
    impostor = tmp_path / "python3"
    impostor.write_text("#!/bin/sh\necho 2.7\n")
    impostor.chmod(0o755)

    assert processes.find_python_executable(str(impostor), search=False) == (None, [str(impostor)])
    missing = str(tmp_path / "python3.11")
    assert processes.find_python_executable(missing, search=False) == (None, [missing])
    found, _ = processes.find_python_executable(str(impostor))
    assert found is not None and found != str(impostor)


def test_import_guard_refuses_only_the_names_the_client_served():
    guard = processes.ForkedChildImportGuard([frozenset({"rfst_pkg", "rfst_mod"})])

    for name in ("rfst_pkg", "rfst_pkg.sub", "rfst_mod"):
        with pytest.raises(ImportError, match="in a child process forked from the run") as info:
            guard.find_spec(name)
        assert info.value.name == name
    assert guard.find_spec("rfst_pkgx") is None
    assert guard.find_spec("json") is None


def test_importing_the_module_changes_nothing():
    import multiprocessing.spawn
    from multiprocessing.reduction import ForkingPickler

    assert multiprocessing.spawn.get_preparation_data.__module__ == "multiprocessing.spawn"
    assert "reducer_override" not in ForkingPickler.__dict__
    assert processes.python_executable() is None


# -- fork ----------------------------------------------------------------------------------------


def test_fork_pool_runs_functions_of_the_script_and_of_client_modules(tmp_path):
    run = run_host(
        tmp_path,
        job(
            """
            import multiprocessing
            from rfst_remote.work import square

            def double(x):
                return 2 * x

            with multiprocessing.get_context("fork").Pool(2) as pool:
                REPORT = {"main": pool.map(double, range(5)), "remote": pool.map(square, range(5))}
            with multiprocessing.Pool(2) as pool:  # the default start method on Linux
                REPORT["default"] = pool.map(double, [10])
            """
        ),
    )
    assert run.report == {"main": [0, 2, 4, 6, 8], "remote": [0, 1, 4, 9, 16], "default": [20]}


def test_fork_process_pool_executor_runs_functions_of_the_script_and_of_client_modules(tmp_path):
    run = run_host(
        tmp_path,
        job(
            """
            import multiprocessing
            from concurrent.futures import ProcessPoolExecutor
            from rfst_remote.work import square, Point

            def x_of(point):
                return point.x

            context = multiprocessing.get_context("fork")
            with ProcessPoolExecutor(2, mp_context=context) as executor:
                REPORT = {
                    "main": list(executor.map(x_of, [Point(3), Point(4)])),
                    "remote": executor.submit(square, 7).result(timeout=60),
                }
            """
        ),
    )
    assert run.report == {"main": [3, 4], "remote": 49}


def test_output_of_forked_children_reaches_fd_1_and_2_not_the_run_capture(tmp_path):
    run = run_host(
        tmp_path,
        job(
            """
            import multiprocessing, os, sys

            def speak(n):
                print("child says", n)
                print("child warns", n, file=sys.stderr)
                return n

            print("parent says hi")
            with multiprocessing.get_context("fork").Pool(2) as pool:
                pool.map(speak, range(3))
            pid = os.fork()
            if pid == 0:
                print("raw fork child")
                sys.stdout.flush()
                os._exit(0)
            os.waitpid(pid, 0)
            """
        ),
    )
    result = run.result
    assert result["status"] == "ok", result
    assert result["stdout"] == "parent says hi\n"
    assert "child" not in result["stderr"]
    for n in range(3):
        assert f"child says {n}\n" in run.stdout
        assert f"child warns {n}\n" in run.stderr
    assert "raw fork child\n" in run.stdout


def test_forked_child_cannot_import_new_client_modules_and_never_asks_the_client(tmp_path):
    run = run_host(
        tmp_path,
        job(
            """
            import importlib, multiprocessing
            import rfst_remote.work

            def load(name):
                try:
                    return importlib.import_module(name).__name__
                except ImportError as error:
                    return "ImportError: %s" % error

            with multiprocessing.get_context("fork").Pool(1) as pool:
                REPORT = pool.map(load, ["rfst_remote.work", "rfst_remote.lazy", "json"])
            import rfst_remote.lazy  # the run itself still imports from the client
            """
        ),
    )
    inherited, refused, local = run.report
    assert inherited == "rfst_remote.work"
    assert local == "json"
    assert refused.startswith("ImportError: cannot import 'rfst_remote.lazy' in a child process forked")
    assert "import it in the run before starting the processes" in refused
    assert {pid for pid, _ in run.requests} == {run.host_pid}
    assert [name for _, name in run.requests].count("rfst_remote.lazy") == 1


def test_forked_child_runs_the_callback_and_detaches_the_private_descriptors(tmp_path):
    read_end, write_end = os.pipe()
    os.set_inheritable(write_end, True)
    try:
        run = run_host(
            tmp_path,
            job(
                f"""
                import multiprocessing, os

                def look(_):
                    return os.readlink("/proc/self/fd/{write_end}")

                REPORT = {{"parent": os.readlink("/proc/self/fd/{write_end}")}}
                with multiprocessing.get_context("fork").Pool(1) as pool:
                    REPORT["child"] = pool.map(look, [0])[0]
                """
            ),
            install={"with_callback": True, "detach_fds": [write_end]},
            pass_fds=(write_end,),
        )
    finally:
        os.close(read_end)
        os.close(write_end)
    report = run.report
    assert report["parent"].startswith("pipe:")
    assert report["child"] == "/dev/null"
    assert "callback ran in" in run.stdout
    assert f"callback ran in {run.host_pid} " not in run.stdout
    assert "forked=1\n" in run.stdout and "forked=0" not in run.stdout


def test_threads_and_fork_after_a_spawn_pool_are_unaffected(tmp_path):
    run = run_host(
        tmp_path,
        job(
            """
            import math, multiprocessing, threading
            from concurrent.futures import ThreadPoolExecutor
            from rfst_remote.work import square

            def double(x):
                return 2 * x

            spawn_pool = multiprocessing.get_context("spawn").Pool(1)
            REPORT = {"spawn": spawn_pool.map(math.factorial, [5])}
            with multiprocessing.get_context("fork").Pool(2) as pool:
                REPORT["fork"] = pool.map(double, [1, 2])
                REPORT["fork_remote"] = pool.map(square, [3])
            with ThreadPoolExecutor(2) as executor:
                REPORT["threads"] = list(executor.map(double, [4]))
            spawn_pool.close()
            spawn_pool.join()
            """
        ),
    )
    assert run.report == {"spawn": [120], "fork": [2, 4], "fork_remote": [9], "threads": [8]}


# -- spawn and forkserver ------------------------------------------------------------------------


def test_spawn_and_forkserver_run_stdlib_and_local_functions(tmp_path):
    run = run_host(
        tmp_path,
        job(
            """
            import math, multiprocessing, os
            from concurrent.futures import ProcessPoolExecutor
            import rfst_remote.work  # imported in the run; children must not ask for it
            import rfst_localwork

            REPORT = {}
            for method in ("spawn", "forkserver"):
                context = multiprocessing.get_context(method)
                with context.Pool(2) as pool:
                    REPORT[method + " pool"] = pool.map(math.factorial, range(5))
                    REPORT[method + " pool local"] = pool.map(rfst_localwork.cube, [2])
                    REPORT[method + " view"] = pool.map(rfst_localwork.child_view, [0])[0]
                with ProcessPoolExecutor(2, mp_context=context) as executor:
                    REPORT[method + " executor"] = executor.submit(os.getpid).result(timeout=60) != os.getpid()
                process = context.Process(target=rfst_localwork.cube, args=(3,))
                process.start()
                process.join(60)
                REPORT[method + " process"] = process.exitcode
            """
        ),
    )
    report = run.report
    for method in ("spawn", "forkserver"):
        assert report[f"{method} pool"] == [1, 1, 2, 6, 24]
        assert report[f"{method} pool local"] == [8]
        assert report[f"{method} executor"] is True
        assert report[f"{method} process"] == 0
        view = report[f"{method} view"]
        assert view["main_file"] != SCRIPT
        assert view["remote"] == []
        assert view["executable"] == run.chosen
    assert {pid for pid, _ in run.requests} == {run.host_pid}
    assert "FileNotFoundError" not in run.stderr and "Traceback" not in run.stderr


def test_spawned_children_never_run_the_client_script_even_where_its_path_exists(tmp_path):
    marker = tmp_path / "script-ran"
    script = tmp_path / "job.py"
    source = f"""
        import math, multiprocessing, os
        if __name__ != "__main__":
            open({str(marker)!r}, "a").write("%d\\n" % os.getpid())
        if __name__ == "__main__":
            with multiprocessing.get_context("spawn").Pool(2) as pool:
                REPORT = pool.map(math.factorial, [3, 4])
        """
    script.write_text(textwrap.dedent(source))

    run = run_host(tmp_path, job(source, filename=str(script)))

    assert run.report == [6, 24]
    assert not marker.exists()


SCRIPT_FUNCTION_CASES = {
    "spawn pool": """
        with multiprocessing.get_context("spawn").Pool(2) as pool:
            pool.map(f, range(4))
        """,
    "forkserver pool": """
        with multiprocessing.get_context("forkserver").Pool(2) as pool:
            pool.map(f, range(4))
        """,
    "spawn pool apply_async": """
        with multiprocessing.get_context("spawn").Pool(1) as pool:
            pool.apply_async(f, (1,)).get(timeout=60)
        """,
    "spawn executor": """
        with ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("spawn")) as executor:
            executor.submit(f, 1).result(timeout=60)
        """,
    "spawn executor map": """
        with ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("spawn")) as executor:
            list(executor.map(f, range(3), timeout=60))
        """,
    "spawn process": """
        process = multiprocessing.get_context("spawn").Process(target=f, args=(1,))
        process.start()
        """,
    "set_start_method spawn": """
        multiprocessing.set_start_method("spawn")
        process = multiprocessing.Process(target=f, args=(1,))
        process.start()
        """,
    "spawn executor initializer": """
        with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"),
                                 initializer=f, initargs=(1,)) as executor:
            executor.submit(abs, 1).result(timeout=60)
        """,
    "spawn pool initializer": """
        with multiprocessing.get_context("spawn").Pool(1, initializer=f, initargs=(1,)) as pool:
            pool.map(abs, [1])
        """,
}


@pytest.mark.parametrize("case", sorted(SCRIPT_FUNCTION_CASES))
def test_spawn_refuses_functions_of_the_script_promptly_in_the_parent(tmp_path, case):
    method = "forkserver" if "forkserver" in case else "spawn"
    template = textwrap.dedent(
        """
        import multiprocessing, time
        from concurrent.futures import ProcessPoolExecutor
        from remote_file_source.processes import ClientCodePicklingError

        def f(x):
            return x

        started = time.monotonic()
        try:
        %s
        except ClientCodePicklingError as error:
            REPORT = {"message": str(error), "elapsed": time.monotonic() - started}
        """
    )
    case_source = textwrap.indent(textwrap.dedent(SCRIPT_FUNCTION_CASES[case]), "    ")
    run = run_host(tmp_path, job(template % case_source))
    report = run.report
    assert report is not None, "no error was raised"
    assert report["elapsed"] < PROMPT
    assert report["message"] == (
        f"function 'f' is defined in the client's script {SCRIPT}; processes started with the "
        f"'{method}' method run a fresh interpreter on the worker that cannot import it; use the "
        "'fork' start method (multiprocessing.get_context('fork')) or move it to a module "
        "installed on the worker"
    )


def test_spawn_refuses_client_module_functions_and_classes_of_arguments(tmp_path):
    run = run_host(
        tmp_path,
        job(
            """
            import math, multiprocessing, time
            from remote_file_source.processes import ClientCodePicklingError
            from rfst_remote.work import square, Point

            class Local:
                pass

            context = multiprocessing.get_context("spawn")
            REPORT = {}
            with context.Pool(2) as pool:
                for label, call in [
                    ("remote function", lambda: pool.map(square, [1])),
                    ("remote instance", lambda: pool.map(repr, [Point(1)])),
                    ("script instance", lambda: pool.apply(repr, (Local(),))),
                ]:
                    started = time.monotonic()
                    try:
                        call()
                    except ClientCodePicklingError as error:
                        REPORT[label] = [str(error), time.monotonic() - started]
                REPORT["still works"] = pool.map(math.factorial, [4])
            process = context.Process(target=print, args=(Point(2),))
            try:
                process.start()
            except ClientCodePicklingError as error:
                REPORT["process argument"] = [str(error), 0]
            """
        ),
    )
    report = run.report
    origin = client_path("rfst_remote/work.py")
    expected = {
        "remote function": f"function 'square' is defined in module 'rfst_remote.work' ({origin})",
        "remote instance": f"class 'Point' is defined in module 'rfst_remote.work' ({origin})",
        "script instance": f"class 'Local' is defined in the client's script {SCRIPT}",
        "process argument": f"class 'Point' is defined in module 'rfst_remote.work' ({origin})",
    }
    for label, start in expected.items():
        message, elapsed = report[label]
        assert message.startswith(start), message
        assert "'spawn' method run a fresh interpreter" in message
        assert elapsed < PROMPT
    assert "install that module on the worker" in report["remote function"][0]
    assert report["still works"] == [24]


def test_lambdas_keep_the_usual_pickling_error(tmp_path):
    run = run_host(
        tmp_path,
        job(
            """
            import multiprocessing, pickle
            from remote_file_source.processes import ClientCodePicklingError
            with multiprocessing.get_context("spawn").Pool(1) as pool:
                try:
                    pool.map(lambda x: x, [1])
                except Exception as error:
                    REPORT = [type(error).__name__, isinstance(error, ClientCodePicklingError)]
            """
        ),
    )
    name, ours = run.report
    assert name == "PicklingError" and ours is False


def test_without_an_interpreter_spawn_fails_clearly_and_fork_still_works(tmp_path):
    missing = str(tmp_path / "nowhere" / "python3.11")
    run = run_host(
        tmp_path,
        job(
            """
            import multiprocessing, sys, time

            def double(x):
                return 2 * x

            REPORT = {"executable": sys.executable}
            started = time.monotonic()
            try:
                with multiprocessing.get_context("spawn").Pool(1) as pool:
                    pool.map(abs, [1])
            except RuntimeError as error:
                REPORT["spawn"] = [str(error), time.monotonic() - started]
            with multiprocessing.get_context("fork").Pool(1) as pool:
                REPORT["fork"] = pool.map(double, [2])
            """
        ),
        install={"python_executable": missing, "search": False},
    )
    report = run.report
    assert run.chosen is None
    assert report["executable"] == ""
    message, elapsed = report["spawn"]
    assert message.startswith("cannot start a process with the 'spawn' or 'forkserver' method: no Python")
    assert missing in message
    assert "multiprocessing.get_context('fork')" in message
    assert elapsed < PROMPT
    assert report["fork"] == [4]


# -- runs ----------------------------------------------------------------------------------------


def test_runs_do_not_leak_into_each_other_or_into_the_host(tmp_path):
    run = run_host(
        tmp_path,
        [
            job(
                """
                import math, multiprocessing, sys
                multiprocessing.set_start_method("spawn")
                multiprocessing.set_executable("/elsewhere/python")
                sys.executable = "/elsewhere/python"
                REPORT = multiprocessing.get_start_method()
                """
            ),
            job(
                """
                import math, multiprocessing, os, sys
                REPORT = {
                    "start_method": multiprocessing.get_start_method(allow_none=True),
                    "executable": sys.executable,
                    "spawn_executable": os.fsdecode(multiprocessing.spawn.get_executable()),
                }
                multiprocessing.set_start_method("spawn")  # no "context has already been set"
                with multiprocessing.Pool(1) as pool:
                    REPORT["spawn"] = pool.map(math.factorial, [3])
                """
            ),
        ],
    )
    first, second = (run.ok(result) for result in run.results)
    assert first == "spawn"
    assert second == {
        "start_method": None,
        "executable": run.chosen,
        "spawn_executable": run.chosen,
        "spawn": [6],
    }
    # Outside a run the host's own __main__ is prepared for children as multiprocessing does.
    assert run.after["prep_main"] == run.after["host_file"]
    assert run.after["start_method"] is None
    assert run.after["executable"] == run.chosen


def test_functions_of_modules_served_from_the_run_tree_are_client_code():
    from remote_file_source import processes
    from remote_file_source.tree_finder import TreeLoader

    module = types.ModuleType("rfst_tree_served")
    module.__loader__ = TreeLoader.__new__(TreeLoader)  # what the tree's finder gives its modules
    exec("def work(x):\n    return x\n", module.__dict__)
    module.work.__module__ = module.__name__
    sys.modules[module.__name__] = module
    try:
        assert processes._client_definition(module.work) == ("function", "rfst_tree_served", module)
    finally:
        del sys.modules[module.__name__]
