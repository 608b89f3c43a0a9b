# Kernel check (imports nothing from the kit): on any kernel but the kit's, stop here and say which to pick.
import importlib.util
import sys
from importlib import metadata

sdk_version = next((d.version for d in metadata.distributions(name="sagemaker")), None)
kit_found = importlib.util.find_spec("lab_helpers") is not None
if not kit_found or not (sdk_version or "").startswith("$sdk_major."):
    raise SystemExit(
        f"This notebook is running on {sys.executable}, which has SageMaker SDK {sdk_version or 'none'}"
        f"{'' if kit_found else ' and no lab_helpers'}. Switch the kernel to '$kernel' "
        "(Kernel → Change Kernel…); if it isn't listed, run `$setup` in a terminal in the kit's folder.")
