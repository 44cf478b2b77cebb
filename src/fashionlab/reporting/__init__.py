"""The sweep report, one concern per module, imports going one way: runs (reading a sweep) -> stats (numbers) ->
selection (configurations, the choice, verdicts) -> diagnosis, figures, markdown, aggregates (TensorBoard) ->
report (orchestration: load, select, test once, write)."""
