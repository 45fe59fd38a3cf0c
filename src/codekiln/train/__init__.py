"""Training: SFT and DPO(+NLL) through TRL + PEFT, online GRPO/RLOO, and export of the result for llama.cpp.

`launch.train` is the stage's entry (here, or relaunched on several GPUs); `run.train_model` trains in this
process; `export.write_gguf` / `write_lora_gguf` serve models to llama.cpp; `tiny.build_tiny_model` makes a tiny
random chat model for tests. Heavy libraries are imported inside the functions, so importing this package is cheap.
"""
