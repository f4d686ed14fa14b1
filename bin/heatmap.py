#!python
"""The installed ``heatmap.py`` command: runs the installed, byte-compiled heatmap module.

pip installs this file as ``bin/heatmap.py`` (the ``#!python`` line becomes the
environment's interpreter).  Python puts a script's folder first on ``sys.path``,
where ``import heatmap`` would find this file again instead of the module, so
the folder is taken off first.  The ``heatmap`` command beside it
(``from heatmap import _console``) finds this file too, imports it as
``heatmap``, and gets the real module in its place.  Compiling the 3,500-line
module on every run instead would cost about 50 ms.
"""
import os
import sys

_folder = os.path.dirname(os.path.realpath(__file__))
sys.path[:] = [p for p in sys.path if os.path.realpath(p or os.curdir) != _folder]
if __name__ == "__main__":
    import heatmap
    heatmap._console()
else:  # imported as "heatmap": the real module replaces this one (importlib allows it)
    del sys.modules[__name__]
    import heatmap  # noqa: F401
