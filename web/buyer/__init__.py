"""The buyer portal (/buyer/): the mobile-first blueprint, the signed links from the marketplace
app, and the rating form on the case page.

It may import `desk`, `arbitration` and the rest of `web`.
"""
