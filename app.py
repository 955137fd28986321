"""CardioLiquid clinic demo: `streamlit run app.py` (or `make demo`).

Thin on purpose: the page is :mod:`cardioliquid.app.views`; its parts are its sibling modules.
"""

from cardioliquid.app.views import main

main()
