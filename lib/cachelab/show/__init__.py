"""What the lessons show: tables and money as the lessons print them, figures, and the slider
dashboards.

- ``ttl_dashboard``     lesson 07's dashboard (and lesson 09's): TTL, rates and strategy on sliders;
- ``xfetch_dashboard``  lesson 08's dashboard: when XFetch refreshes, with β on a slider;
- ``display``           tables, money and stock;
- ``plots``             figures a lesson shows but does not teach, one ``plot_*`` function each;
- ``_png``, ``_prefetch``  plumbing: a fast PNG encoder, and the simulating done between moves.
"""

__all__: list[str] = []
