"""What a run folder says, read back after (or during) `codekiln run`: figures, alarms, the console table, report.html.

stats (per round: the data funnel, pass@k with bootstrap CIs on validation, test and the extra sets, the verdict mix,
the training curves; paired gains), alarms (over-fitting and reward hacking, model by model, from those figures),
console (the closing table `codekiln run` prints), html (`write_report`: the self-contained report.html of
`codekiln report`), and its parts: charts (inline SVG), evidence (how `final` was chosen, transfer, the alarms,
judged answers vs the base model's), screenshots (base vs final pages of html tasks, rendered in the browser cage).
Nothing here decides anything in the loop; it only reads what the stages wrote.
"""
