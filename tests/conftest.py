"""Suite-wide settings: the tests never reach the network."""

import os

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["AFFWB_OFFLINE"] = "1"
