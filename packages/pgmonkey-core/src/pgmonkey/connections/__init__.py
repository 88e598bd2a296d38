"""The four pgmonkey connection types (placeholder: replaced by the connections work)."""
