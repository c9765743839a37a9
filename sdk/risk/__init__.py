"""Risk: score every asset, evaluate the rules, map findings to the frameworks.

* :mod:`aiposture.risk.graph`: the estate as a graph the rules and the scoring read;
* :mod:`aiposture.risk.base` and :mod:`aiposture.risk.registry`: the rule plugins;
* :mod:`aiposture.risk.scoring`: the four dimensions, likelihood, impact and priority;
* :mod:`aiposture.risk.frameworks`: OWASP LLM Top 10, MITRE ATLAS, NIST AI RMF, EU AI Act;
* :mod:`aiposture.risk.engine`: one assessment, stored as a dated snapshot.
"""
