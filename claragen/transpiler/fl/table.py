"""Clara FL's components and settings -> NVIDIA FLARE's (issue 31), one table.

Clara FL (3.x on TensorFlow, 4.x on PyTorch) was the ancestor of NVIDIA FLARE: most of its
server config is FLARE's scatter-and-gather workflow, with the same components under the
same names. Every component and every setting of `config_fed_server.json` and
`config_fed_client.json` has a fate here:

    MAP      its value reaches an NVFlare arg (`nvflare` names it: "Class.arg")
    CLIENT   the job's client script does it (NVFlare's Client API: receive, train, send)
    FLARE    FLARE itself does it: nothing to write (its transport, admin, provisioning)
    CHANGED  what the job does differs: a warning names Clara's side and the job's

A component is keyed by its Clara class name: a `name`, or the last part of a `path` of
Clara's own packages (`medl.`, the early `flare.` / `nvflare.` that Clara 4.0 shipped);
any other `path` is the user's (BYO), read through the BYOC gate like every `path`.
Each NVFlare target and arg is checked against nvflare's real signatures (a test).
"""

from __future__ import annotations

from dataclasses import dataclass, field

MAP, CLIENT, FLARE, CHANGED = "map", "client", "flare", "changed"
FATES = (MAP, CLIENT, FLARE, CHANGED)
CLARA_PACKAGES = ("medl.", "flare.", "nvflare.")
HE = "he"  # NVFlare's homomorphic encryption: TenSEAL (`pip install nvflare[HE]`)

AGGREGATOR = "nvflare.app_common.aggregators.intime_accumulate_model_aggregator.InTimeAccumulateWeightedAggregator"
HE_AGGREGATOR = "nvflare.app_opt.he.intime_accumulate_model_aggregator.HEInTimeAccumulateWeightedAggregator"
PERSISTOR = "nvflare.app_opt.pt.file_model_persistor.PTFileModelPersistor"
GENERATOR = "nvflare.app_common.shareablegenerators.full_model_shareable_generator.FullModelShareableGenerator"
SELECTOR = "nvflare.app_common.widgets.intime_model_selector.IntimeModelSelector"
WORKFLOW = "nvflare.app_common.workflows.scatter_and_gather.ScatterAndGather"
CROSS_SITE = "nvflare.app_common.workflows.cross_site_model_eval.CrossSiteModelEval"
PERCENTILE = "nvflare.app_common.filters.percentile_privacy.PercentilePrivacy"
SVT = "nvflare.app_common.filters.svt_privacy.SVTPrivacy"
EXCLUDE = "nvflare.app_common.filters.exclude_vars.ExcludeVars"


@dataclass(frozen=True)
class Fate:
    """What becomes of one Clara setting or arg: `fate` (FATES), the NVFlare class.arg it
    maps to (MAP), and how, in words (the job's README and the warnings quote it)."""

    fate: str
    how: str
    nvflare: str | None = None  # "ScatterAndGather.num_rounds" (MAP)


@dataclass(frozen=True)
class FLPort:
    """One Clara FL component: its NVFlare class (None: the client script or FLARE does
    it), the fate of each arg Clara's configs give it, and what it needs installed."""

    role: str
    target: str | None
    args: dict[str, Fate] = field(default_factory=dict)
    how: str = ""  # target None: who does it instead; else a change of meaning, if any
    needs: str | None = None  # an nvflare extra (HE: TenSEAL)


def _map(nvflare: str, how: str = "") -> Fate:
    return Fate(MAP, how or f"-> {nvflare}", nvflare)


_WEIGHTS = _map(
    "InTimeAccumulateWeightedAggregator.aggregation_weights",
    "each site's weight in the weighted mean, by site name",
)
_EXCLUDE = _map("InTimeAccumulateWeightedAggregator.exclude_vars")
_TRAIN_LOOP = (
    "the client script: the global weights in, local training, the weights "
    "out with the steps it trained (NVFlare's Client API)"
)

# The plain settings, by where they sit: "servers" is the server's (or the client's)
# first (only) item of "servers"; "client" the client config's "client" object.
# fmt: off
SETTINGS: dict[tuple[str, str], Fate] = {
    ("server", "format_version"): Fate(FLARE, "the job's own format (meta.json)"),
    ("server", "servers.name"): Fate(MAP, "the job's name (meta.json)"),
    ("server", "servers.min_num_clients"): _map("ScatterAndGather.min_clients"),
    ("server", "servers.max_num_clients"): Fate(
        FLARE, "the simulator runs the sites it is given (-n); a deployment, the sites "
        "it provisions"),
    ("server", "servers.wait_after_min_clients"): _map(
        "ScatterAndGather.wait_time_after_min_received"),
    ("server", "servers.heart_beat_timeout"): Fate(
        FLARE, "FLARE's own heartbeat (its site configs)"),
    ("server", "servers.start_round"): _map("ScatterAndGather.start_round"),
    ("server", "servers.num_rounds"): _map("ScatterAndGather.num_rounds"),
    ("server", "servers.exclude_vars"): _map("PTFileModelPersistor.exclude_vars"),
    ("server", "servers.num_rounds_per_valid"): Fate(
        CHANGED, "the global model is validated by the sites every round (their "
        "metric selects the best model), not on the server every N rounds"),
    ("server", "servers.validate_on_server"): Fate(
        CHANGED, "the sites validate the global model every round, not the server"),
    ("server", "servers.num_server_workers"): Fate(FLARE, "FLARE's own server threads"),
    ("server", "servers.compression"): Fate(FLARE, "FLARE's own transport"),
    ("server", "servers.ssl_private_key"): Fate(FLARE, "FLARE's provisioning"),
    ("server", "servers.ssl_cert"): Fate(FLARE, "FLARE's provisioning"),
    ("server", "servers.ssl_root_cert"): Fate(FLARE, "FLARE's provisioning"),
    ("client", "format_version"): Fate(FLARE, "the job's own format (meta.json)"),
    ("client", "servers.name"): Fate(MAP, "the job's name (meta.json)"),
    ("client", "servers.service"): Fate(FLARE, "FLARE's provisioning"),
    ("client", "client.local_epochs"): Fate(CLIENT, "the epochs of each round"),
    ("client", "client.steps_aggregation"): Fate(
        CLIENT, "the iterations of each round, when > 0 (else local_epochs)"),
    ("client", "client.exclude_vars"): _map("ExcludeVars.exclude_vars",
                                            "the weights not sent (an outbound filter)"),
    ("client", "client.cross_site_validate"): _map(
        "CrossSiteModelEval", "cross-site validation of the final models"),
    ("client", "client.retry_timeout"): Fate(FLARE, "FLARE's own connection retries"),
    ("client", "client.compression"): Fate(FLARE, "FLARE's own transport"),
    ("client", "client.ssl_private_key"): Fate(FLARE, "FLARE's provisioning"),
    ("client", "client.ssl_cert"): Fate(FLARE, "FLARE's provisioning"),
    ("client", "client.ssl_root_cert"): Fate(FLARE, "FLARE's provisioning"),
    ("client", "cross_validate"): _map("CrossSiteModelEval",
                                       "cross-site validation of the final models"),
    ("client", "cross_site_validation.is_participating"): Fate(
        CLIENT, "the site validates the other sites' models"),
}

_AGG = {"aggregation_weights": _WEIGHTS, "exclude_vars": _EXCLUDE}
_SVT = {a: _map(f"SVTPrivacy.{a}") for a in
        ("fraction", "epsilon", "noise_var", "gamma", "tau")}
_PERCENTILE = {a: _map(f"PercentilePrivacy.{a}") for a in ("percentile", "gamma")}
_FROM_CLIENT_API = Fate(CLIENT, "the client script sends it with the weights")

COMPONENTS: dict[str, FLPort] = {
    # the server
    "InTimeAccumulateWeightedAggregator": FLPort("aggregator", AGGREGATOR, _AGG),
    "AccumulateWeightedAggregator": FLPort(
        "aggregator", AGGREGATOR, _AGG,
        "the same weighted mean, summed as each site's result arrives, not once all "
        "are in"),
    "ModelAggregator": FLPort("aggregator", AGGREGATOR, _AGG,
                              "Clara 3.x's weighted mean, as FLARE's aggregator"),
    "HEInTimeAccumulateWeightedAggregator": FLPort(
        "aggregator", HE_AGGREGATOR, {"aggregation_weights": _WEIGHTS}, needs=HE),
    "HEAccumulateWeightedAggregator": FLPort(
        "aggregator", HE_AGGREGATOR, {"aggregation_weights": _WEIGHTS},
        "summed as each site's result arrives", HE),
    "PTFileModelPersistor": FLPort("model_persistor", PERSISTOR, {
        "exclude_vars": _map("PTFileModelPersistor.exclude_vars"),
        "model": _map("PTFileModelPersistor.model", "the network, compiled as the "
                      "training config's: the same class and args")}),
    "HEPTFileModelPersistor": FLPort("model_persistor", PERSISTOR, {
        "exclude_vars": _map("PTFileModelPersistor.exclude_vars"),
        "model": _map("PTFileModelPersistor.model")},
        "FLARE's persistor with its HE serialize filter (HEModelSerializeFilter)",
        HE),
    "FullModelShareableGenerator": FLPort("shareable_generator", GENERATOR),
    "HEModelShareableGenerator": FLPort(
        "shareable_generator", "nvflare.app_opt.he.model_shareable_generator."
        "HEModelShareableGenerator", {"tenseal_context_file": _map(
            "HEModelShareableGenerator.tenseal_context_file")}, needs=HE),
    "IntimeModelSelectionHandler": FLPort(
        "handler", SELECTOR, how="the best global model by the sites' key metric "
        "(best_FL_global_model.pt)"),
    "ServerTrainer": FLPort("server_trainer", None, how="FLARE's server"),
    "PTModelSaver": FLPort("model_saver", None, {"exclude_vars": _map(
        "PTFileModelPersistor.exclude_vars")}, how="FLARE's persistor saves the "
        "global model"),
    "TFModelSaver": FLPort("model_saver", None, {"exclude_vars": _map(
        "PTFileModelPersistor.exclude_vars")}, how="FLARE's persistor saves the "
        "global model (PyTorch's, the network's port)"),
    "DataCompressor": FLPort("processor", None, how="FLARE's own transport"),
    "DataDeCompressor": FLPort("processor", None, how="FLARE's own transport"),
    "ModelEncryptor": FLPort("processor", None, how="FLARE's provisioned TLS"),
    "ModelDecryptor": FLPort("processor", None, how="FLARE's provisioned TLS"),
    "ValidateResultProcessor": FLPort("processor", None, how="FLARE's cross-site "
                                      "evaluation collects the results"),
    # Clara 3.x's admin commands and request processors: FLARE's admin client has them
    **{name: FLPort("admin", None, how="FLARE's admin client")
       for name in ("ShellCommandModule", "SystemCommandModule", "TrainingCommandModule",
                    "ValidationCommandModule", "AbortClientProcessor",
                    "ClientStatusProcessor", "DeleteRunNumberProcessor", "DeployProcessor",
                    "RestartClientProcessor", "ShellCommandProcessor",
                    "ShutdownClientProcessor", "StartClientMGpuProcessor",
                    "StartClientProcessor", "SysInfoProcessor",
                    "ValidateRequestProcessor")},
    # the client
    "ClientTrainer": FLPort("client_trainer", None, {
        "local_epochs": Fate(CLIENT, "the epochs of each round"),
        "steps_aggregation": Fate(CLIENT, "the iterations of each round, when > 0"),
        "model_reader_writer": Fate(CLIENT, "the script loads and reads the weights")},
        _TRAIN_LOOP),
    "PTModelReaderWriter": FLPort("model_reader_writer", None, how=_TRAIN_LOOP),
    "TFModelReaderWriter": FLPort("model_reader_writer", None, how=_TRAIN_LOOP),
    "HEPTModelReaderWriter": FLPort(
        "model_reader_writer", None, how=_TRAIN_LOOP + "; the HE filters encrypt",
        needs=HE),
    "TFModelValidator": FLPort("model_validator", None, how="the client script "
                               "validates (the training config's validation)"),
    "ClientValidator": FLPort("model_validator", None, how="the client script "
                              "validates (the training config's validation)"),
    "PercentilePrivacy": FLPort("filter", PERCENTILE, _PERCENTILE),
    "PercentileProtocol": FLPort("filter", PERCENTILE, _PERCENTILE,
                                 "Clara 3.x's protocol, as FLARE's filter"),
    "SVTPrivacy": FLPort("filter", SVT, _SVT),
    "SVTProtocol": FLPort("filter", SVT, _SVT, "Clara 3.x's protocol, as FLARE's filter"),
    "HEModelEncryptor": FLPort("filter", "nvflare.app_opt.he.model_encryptor."
                               "HEModelEncryptor", {
        "encrypt_layers": _map("HEModelEncryptor.encrypt_layers"),
        "aggregation_weights": _map("HEModelEncryptor.aggregation_weights")},
        needs=HE),
    "HEModelDecryptor": FLPort("filter", "nvflare.app_opt.he.model_decryptor."
                               "HEModelDecryptor", needs=HE),
    "HEEvalDecryptor": FLPort("filter", "nvflare.app_opt.he.model_decryptor."
                              "HEModelDecryptor", how="cross-site validation's models "
                              "decrypted as the training's", needs=HE),
    "BestMetricGenerator": FLPort("filter", None, {"field": _FROM_CLIENT_API},
                                  "the client script sends the key metric"),
    "IteratorNumberGenerator": FLPort("filter", None, {"field": _FROM_CLIENT_API},
                                      "the client script sends its steps"),
}

# fmt: on

# Clara 3.x's LaplacianProtocol has no FLARE filter: the job would send unprotected weights
NO_COUNTERPART: dict[str, str] = {
    "LaplacianProtocol": "Clara 3.x's Laplacian differential privacy; FLARE has SVT and "
    "percentile privacy filters, no Laplacian one",
}


CLIENT_ROLES = frozenset({"client_trainer", "model_reader_writer", "model_validator",
                          "filter"})  # fmt: skip


def port_fate(port: FLPort) -> str:
    """An NVFlare class (MAP), else the client script's doing (CLIENT) or FLARE's."""
    if port.target is not None:
        return MAP
    return CLIENT if port.role in CLIENT_ROLES else FLARE


def clara_name(name: str | None, path: str | None) -> str | None:
    """A component's Clara class name; None for a `path` of the user's own (BYO)."""
    if name is not None:
        return name
    if path is not None and path.startswith(CLARA_PACKAGES):
        return path.rsplit(".", 1)[-1]
    return None


# The NVFlare classes the fates name, by their short names ("ScatterAndGather.num_rounds")
TARGETS: dict[str, str] = {
    path.rsplit(".", 1)[-1]: path
    for path in (
        AGGREGATOR,
        HE_AGGREGATOR,
        PERSISTOR,
        GENERATOR,
        SELECTOR,
        WORKFLOW,
        CROSS_SITE,
        PERCENTILE,
        SVT,
        EXCLUDE,
        *(p.target for p in COMPONENTS.values() if p.target),
    )
}
