"""Cases: stages, records, approvals, the rule pack, compliance, supervision.

Writes (each ledgered in its own transaction): commands (open, edit, complaints, move a stage,
archive), records (文书), approvals (Art. 24), links (evidence to a stage or record), proposals
(auto-link, Art. 6). Reads: queries (detail, list, the evidence side), views (JSON shapes),
facts (what compliance reads of a case), lookups (a case the caller may see, its rule pack),
inputs (request fields). The regulation as data: rulepack (what a pack is), rulepack_reader,
rulebook; the engine: compliance with compliance_facts, compliance_reading, compliance_checks,
av_coverage and finding_texts. Supervision: supervision (the report), supervision_tables and
spreadsheet (CSV/XLSX), spotcheck; bookmarks.
"""
