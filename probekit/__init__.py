"""probekit: probe and interpret frozen video encoders against physics worlds.

The data flow is one direction, three files on disk::

    probekit generate  ->  world file (.h5)
    probekit extract   ->  latent store (.h5)
    probekit probe     ->  run directory
    probekit report    ->  one .html file
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("probekit")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
