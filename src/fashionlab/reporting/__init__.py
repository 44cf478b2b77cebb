"""The sweep report, one concern per module, imports going one way: runs (reading a sweep), stats (numbers) and study
(a search's journal) import no other part; rounds (the order of a sequential sweep's rounds) only the sweep folder's
contract; decisions (verdicts and their simulation) imports stats and rounds; selection (configurations, the choice,
verdicts) imports runs and decisions; sweep (a sweep as reported, loaded once) imports selection; diagnosis, figures,
markdown, table and aggregates import those; report (orchestration: load, select, test once, write) imports them
all."""
