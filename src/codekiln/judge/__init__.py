"""The LLM judge (after CodeUltraFeedback): five coding preferences rated 1-10 with a rationale.

rubrics (the preferences), prompt (rendering), parse (strict JSON + tolerant fallback), cache (every call on
disk), budget (a clear stop), pairwise (shuffled positions, both orders, agreement), run (`Judge`), and on
top: benchmark (`judged_benchmark`, CODAL-Bench style; `report_judged` for `codekiln eval --judge`), agreement
(judge vs. tests). The verifier for the `open` kind is `codekiln.verify.judge.JudgeVerifier`.
"""
