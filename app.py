"""CardioLiquid clinic demo: `streamlit run app.py` (or `make demo`).

Thin on purpose: the views live in :mod:`cardioliquid.app.views`.
"""

from cardioliquid.app.views import main

main()
