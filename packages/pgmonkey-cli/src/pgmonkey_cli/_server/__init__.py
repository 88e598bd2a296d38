"""``pgmonkey pgserverconfig``: recommendations (:mod:`.recommend`), pg_hba rule matching
(:mod:`.hba`), the read-only audit (:mod:`.audit`) and the report (:mod:`.report`).
"""  # noqa: D205
