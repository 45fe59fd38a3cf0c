"""Curation: filter, de-duplicate, decontaminate, and build SFT rows and preference pairs.

`run.curate_round` is the stage; filters (`filters.FILTERS`) and pair builders (`pairs.PAIR_BUILDERS`) are chosen by
name. Heavy parts load lazily so `import codekiln.curate` stays cheap.
"""
