"""Excel import of the region tree, households, cadres and pairings: templates, a dry run that lists what would
change and every problem by sheet, row and column, then an all-or-nothing apply in bulk writes.

`sheets` describes the workbook (shared by the templates and the parser), `parse` reads it, `validate` turns
rows into a plan against the database and the importing admin's scope, `apply` writes a plan, `service` runs
an import through its states (the `ImportRun` row), `jobs` runs the two long steps in the background."""
