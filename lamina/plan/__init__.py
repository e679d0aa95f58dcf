"""lamina.plan: which model size and how many tokens for a training budget and an inference volume
(`lamina plan`). scaling.py holds the Chinchilla fit and its optima, cost.py the throughput and GPU
time of concrete candidates, corpus.py the tokens and epochs per source, build.py assembles the plan,
plot.py draws it, report.py shows it in the corpus report. Pure Python: torch is imported only when a
GPU's peak FLOPS or the trainer's MFU formula is needed."""
