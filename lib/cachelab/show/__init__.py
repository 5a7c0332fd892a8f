"""What the lessons show: tables and money as the lessons print them, and the slider dashboards.

- ``display``  tables, money and stock;
- ``widgets``  the dashboards for tuning TTLs (07) and early refresh (08).
"""
