"""Benchmarks: dataset adapters, systems under test, scorers, the runner, and speed figures.

    items.py           Item (a question with its reference), Prediction, Result (one line of a results file)
    adapters.py        SAKURA, JASCO, MMAU, generic JSONL and compound layouts -> items; dynamic_superb.py:
                       Dynamic-SUPERB; compound_set.py: makes the project's compound-question set
    systems.py         the copilot, the fixed cascades, openai-audio (an end-to-end audio LLM), and oracle
    scorers.py         option match, MMAU string match, macro-F1, WER/CER, MAE, keyword hits, refusals, the
                       parts of a compound question
    judge.py           the LLM judge with the benchmark's rubric (prompts.py holds the published texts)
    runner.py          the resumable runner and rescoring; report.py: markdown tables and the bar chart;
                       cli.py: `copilot bench`
    tool_speed.py      per-tool load time, real-time factor and memory
"""
