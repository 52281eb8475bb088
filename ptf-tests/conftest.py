"""pytest setup shared by every test in ptf-tests/.

The PyPI p4runtime 1.5.0 modules load only with protobuf's pure-Python runtime; set it before
any test module imports protobuf (see requirements.txt).
"""

import os

os.environ.setdefault("PROTOCOL_BUFFERS_PYTHON_IMPLEMENTATION", "python")
