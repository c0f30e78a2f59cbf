"""AFF Workbench engine: the headless core (store, import, phantom, training, evaluation).

Importing ``engine`` is cheap: subpackages that need torch import it themselves,
so the GUI can use the store and the cache without paying for torch.
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
