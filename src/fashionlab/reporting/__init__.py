"""The sweep report, one concern per module, imports going one way: runs (reading a sweep), stats (numbers) and study
(a search's journal) import no other part; selection (configurations, the choice, verdicts) imports runs and stats;
diagnosis, figures, markdown and aggregates (TensorBoard) import those; report (orchestration: load, select, test
once, write) imports them all."""
