"""Cases: stages, records, approvals, the rule pack, compliance, supervision."""
