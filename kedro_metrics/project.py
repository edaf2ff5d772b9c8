"""The project's settings (metrics.yml, tracking URI, experiment), in one place for
the hook, the CLI and Python inside a project (``kedro ipython``, notebooks,
``KedroSession``).

Precedence (see docs/hook.md): metrics.yml > environment variables > defaults
(sqlite in the project, the package name). ``config.py`` holds the pure rules; this
module reads the files through Kedro's config loader.

"Inside a project" means: a ``KedroContext`` was created in this process (the hook
remembers the last one), or a project was bootstrapped in this process
(``bootstrap_project``, as ``kedro ipython`` and Kedro's Jupyter extension do), or a
``project_path`` is given. Otherwise there is no project and callers fall back to
MLflow's current tracking URI.

The project's working copy (git state, .gitignore) is read in ``workspace``.

No mlflow import here: Kedro loads the hook and the CLI at start-up.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kedro_metrics import config as metrics_config
from kedro_metrics.config import MetricsConfig
from kedro_metrics.errors import ConfigError
from kedro_metrics.process import state

if TYPE_CHECKING:
    from kedro.framework.context import KedroContext
    from kedro.framework.startup import ProjectMetadata

#: Where metrics.yml is looked for in each configuration environment.
CONFIG_PATTERNS = ["metrics*", "metrics*/**", "**/metrics*"]


@dataclass(frozen=True)
class ProjectSettings:
    """Where a project's metrics live, resolved once."""

    project_path: Path
    package_name: str
    #: The configuration environment (``None``: Kedro's default run env, ``local``).
    env: str | None
    config: MetricsConfig
    tracking_uri: str
    experiment: str


def remember_context(context: KedroContext) -> None:
    """Called by the hook's ``after_context_created``: the project this process is in."""
    state.last_context = context


def settings_for_context(
    context: KedroContext, environ: Mapping[str, str] | None = None
) -> ProjectSettings:
    """The settings of the project a ``KedroContext`` belongs to (hook, notebooks)."""
    from kedro.framework.project import PACKAGE_NAME

    return _resolve(
        config=load_config(context.config_loader),
        project_path=Path(context.project_path),
        package_name=PACKAGE_NAME or Path(context.project_path).name,
        env=context.env,
        environ=os.environ if environ is None else environ,
    )


def settings_for_path(
    project_path: str | os.PathLike[str],
    env: str | None = None,
    environ: Mapping[str, str] | None = None,
    *,
    bootstrapped: ProjectMetadata | None = None,
) -> ProjectSettings:
    """The settings of the Kedro project at ``project_path`` (CLI, ``project_path=``).

    Bootstraps the project (as ``kedro ipython`` does) so that its settings.py
    decides the config loader, then reads metrics.yml of ``env`` (default: the
    ``KEDRO_ENV`` variable, else Kedro's default run environment); an environment
    named must be a folder under conf/ (``conf_env_dir``). A process already
    configured for another project (a notebook's session) is configured back for it
    afterwards: asking about one project never moves the process to it.
    ``bootstrapped`` is the metadata Kedro's CLI got when it bootstrapped the
    project before calling a command: then the process is not bootstrapped again.
    """
    from kedro.framework import project as kedro_project
    from kedro.framework.project import settings

    path = Path(project_path).resolve()
    previous = kedro_project.PACKAGE_NAME
    metadata = _bootstrapped(path, bootstrapped)
    try:
        origin = ""
        if env is None:
            env, origin = os.environ.get("KEDRO_ENV") or None, " (KEDRO_ENV)"
        conf = path / settings.CONF_SOURCE
        if env is not None and conf.is_dir():  # not an archive nor a remote source
            conf_env_dir(conf, env, must_exist=True, origin=origin)
        loader = settings.CONFIG_LOADER_CLASS(
            conf_source=str(path / settings.CONF_SOURCE),
            env=env,
            **settings.CONFIG_LOADER_ARGS,
        )
        config = load_config(loader)
    finally:
        if previous and previous != metadata.package_name:
            kedro_project.configure_project(previous, preserve_logging=True)
    return _resolve(
        config=config,
        project_path=path,
        package_name=metadata.package_name,
        env=env,
        environ=os.environ if environ is None else environ,
    )


def _bootstrapped(path: Path, metadata: ProjectMetadata | None) -> ProjectMetadata:
    """``bootstrap_project(path)``, unless ``metadata`` is of that project and the
    process is still configured for its package (Kedro's CLI did it a moment ago)."""
    from kedro.framework import project as kedro_project
    from kedro.framework.startup import bootstrap_project

    if (
        metadata is not None
        and Path(metadata.project_path).resolve() == path
        and kedro_project.PACKAGE_NAME == metadata.package_name
    ):
        return metadata
    return bootstrap_project(path)


def current_settings(
    project_path: str | os.PathLike[str] | None = None, env: str | None = None
) -> ProjectSettings | None:
    """The settings of the project this process is in, or None outside any project.

    ``project_path`` wins; then the last ``KedroContext`` created in this process;
    then a project bootstrapped in this process (found from its package's source,
    else from the working directory).
    """
    if project_path is not None:
        return settings_for_path(project_path, env)
    if state.last_context is not None:
        return settings_for_context(state.last_context)
    found = _bootstrapped_project_path()
    return settings_for_path(found, env) if found else None


def load_config(loader: Any) -> MetricsConfig:
    """metrics.yml through Kedro's config loader: conf/base merged with conf/<env>.

    Raises:
        ConfigError: naming the offending key and the one file that sets it.
    """
    from kedro.config import MissingConfigException

    loader.config_patterns.setdefault("metrics", CONFIG_PATTERNS)
    try:
        data = loader["metrics"]
    except MissingConfigException:
        data = {}
    except Exception as exc:  # noqa: BLE001 - re-raised as one line: any parser's error
        # Kedro and OmegaConf raise whatever their parsers raise (a ParserError, a
        # UnicodeDecodeError, an InterpolationKeyError ...): one line naming the file.
        raise ConfigError(unreadable_metrics_yml(loader, exc)) from None
    files = _config_files(loader)
    try:
        return MetricsConfig.parse(data, source=" + ".join(map(str, files)) or "metrics.yml")
    except ConfigError as exc:
        culprit = _file_defining(files, exc.key)
        if culprit is None:
            raise
    # Parse again to raise the same error naming the one file that sets the key.
    return MetricsConfig.parse(data, source=str(culprit))


def conf_env_dir(conf: Path, env: str, *, must_exist: bool, origin: str = "") -> Path:
    """The folder of the configuration environment ``env`` under ``conf``.

    Environments are names of folders under conf/: an empty name, one holding a path
    separator, "." or "..", and one naming a file are refused; so is one without a
    folder when ``must_exist`` (``init`` creates it). ``origin`` says where the
    name came from (" (KEDRO_ENV)").

    Raises:
        ConfigError: one line naming the environment, what is wrong, and the
            environments there are.
    """
    separators = {"/", "\\", os.sep, os.altsep} - {None}
    named = f"The configuration environment {env!r}{origin}"
    folder = conf / env
    if not env.strip():
        problem = f"{named} is empty"
    elif env in {".", ".."} or any(sep in env for sep in separators):
        problem = f"{named} is a path, not the name of a folder"
    elif folder.exists() and not folder.is_dir():
        problem = f"{named} is not a folder: {folder} is a file"
    elif must_exist and not folder.is_dir():
        problem = f"{named} does not exist: there is no folder {folder}"
    else:
        return folder
    envs = sorted(p.name for p in conf.iterdir() if p.is_dir()) if conf.is_dir() else []
    raise ConfigError(
        f"{problem}. Environments are the folders under {conf}"
        + (f" ({', '.join(envs)})." if envs else "."),
        key="env",
    )


def unreadable_metrics_yml(loader: Any, exc: BaseException) -> str:
    """One line saying why the config loader could not read metrics.yml: the file
    that is not YAML text (and where YAML says so), is not a mapping, or holds a
    ``${...}`` that does not resolve; else the loader's own message on one line."""
    files = _metrics_files(loader)
    for path in files:
        try:
            problem = _not_a_settings_file(path)
        except Exception:  # noqa: BLE001 - the diagnosis never hides the loader's error
            problem = None
        if problem:
            return f"{path} {problem}."
    first_line = (str(exc).strip().splitlines() or [type(exc).__name__])[0].rstrip(".")
    key = getattr(exc, "full_key", None)
    if key and "interpolat" in type(exc).__name__.lower():
        top = str(key).split(".")[0].split("[")[0]
        culprit = _file_defining(files, top, interpolating=True)
        where = culprit or " + ".join(map(str, files)) or "metrics.yml"
        return f"The ${{...}} of {key!r} in {where} does not resolve: {first_line}."
    shown = " ".join(str(exc).split()) or type(exc).__name__
    return f"Cannot read metrics.yml ({' + '.join(map(str, files)) or loader.conf_source}): {shown}"


def _metrics_files(loader: Any) -> list[Path]:
    """The files the loader reads for "metrics" (its patterns, in base then the run
    environment), for naming the bad one; a remote or archived conf/ gives none."""
    conf = Path(str(loader.conf_source))
    envs = dict.fromkeys([loader.base_env, loader.env or loader.default_run_env])
    found: dict[Path, None] = {}
    for env in (e for e in envs if e):
        for pattern in loader.config_patterns.get("metrics", CONFIG_PATTERNS):
            for match in sorted((conf / env).glob(pattern)):
                # pathlib's "**" matches folders where fsspec's matches their files
                for path in sorted(match.rglob("*")) if match.is_dir() else [match]:
                    if path.suffix in {".yml", ".yaml", ".json"} and path.is_file():
                        found.setdefault(path, None)
    return list(found)


def _not_a_settings_file(path: Path) -> str | None:
    """What makes ``path`` unreadable as metrics.yml, or None: not UTF-8 text, not
    YAML (PyYAML's rules, then OmegaConf's stricter ones: no duplicate keys), or
    not a mapping at the top level."""
    import io

    import yaml
    from omegaconf import OmegaConf
    from omegaconf.errors import GrammarParseError

    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return (
            f"is not a YAML text file: byte 0x{raw[exc.start]:02x} at offset {exc.start} "
            "is not UTF-8 (a binary file?)"
        )
    try:
        data = yaml.safe_load(text)
        if isinstance(data, dict):
            OmegaConf.load(io.StringIO(text))
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        what = " ".join(str(exc.problem or exc.context or "").split())
        return f"is not valid YAML{where}: {what}"
    except yaml.reader.ReaderError as exc:  # a character YAML does not allow
        return (
            f"is not a YAML text file: it holds the character #x{exc.character:04x} at "
            f"offset {exc.position} (a binary file?)"
        )
    except GrammarParseError as exc:  # "${" opened and not closed, ...
        what = (str(exc).strip().splitlines() or ["cannot be parsed"])[0]
        return f"holds a ${{...}} that is not an interpolation: {what}"
    if data is not None and not isinstance(data, dict):
        kind = {list: "a list", str: "a string", bool: "true or false"}.get(type(data), "a number")
        return f"must hold settings (key: value lines) at the top level, not {kind}"
    return None


def _resolve(
    *,
    config: MetricsConfig,
    project_path: Path,
    package_name: str,
    env: str | None,
    environ: Mapping[str, str],
) -> ProjectSettings:
    return ProjectSettings(
        project_path=project_path,
        package_name=package_name,
        env=env,
        config=config,
        tracking_uri=metrics_config.tracking_uri(config, environ, str(project_path)),
        experiment=metrics_config.experiment_name(config, environ, package_name),
    )


def _bootstrapped_project_path() -> Path | None:
    """The project bootstrapped in this process (``bootstrap_project``, ``kedro
    ipython``): the one holding its package's source, else the working directory's
    (a project whose package is installed rather than on ``src/``)."""
    import importlib.util

    from kedro.framework.project import PACKAGE_NAME
    from kedro.utils import find_kedro_project

    if not PACKAGE_NAME:
        return None
    spec = importlib.util.find_spec(PACKAGE_NAME)
    if spec is not None and spec.origin:
        found = find_kedro_project(Path(spec.origin).parent)
        if found is not None:
            return found
    return find_kedro_project(Path.cwd())


def _config_files(loader: Any) -> list[Path]:
    conf = Path(str(loader.conf_source))
    envs = dict.fromkeys([loader.base_env, loader.env or loader.default_run_env])
    return [path for env in envs if env for path in sorted((conf / env).glob("metrics*.y*ml"))]


def _file_defining(
    files: list[Path], key: str | None, *, interpolating: bool = False
) -> Path | None:
    """The last (winning) metrics file that sets ``key`` at the top level (with a
    ``${`` in it when ``interpolating``)."""
    import yaml

    for path in reversed(files):
        text = path.read_text()
        data = yaml.safe_load(text) or {}
        if isinstance(data, dict) and key in data and (not interpolating or "${" in text):
            return path
    return None
