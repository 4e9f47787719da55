"""The infer stage: a model answers every question of a passage under every press and ratio.

Modules, in the order data flows through them:

- ``prompts``, ``evidence``: the context and question text, and which context tokens hold each answer (T_ans).
- ``presses``: config specs -> stock kvpress objects (which specs are allowed: ``kvroute.press_specs``),
  and the scorers kvroute wraps (memo, steering).
- ``oracle``: the oracle variants' steered positions (torch-free: the config check uses it).
- ``engine``: one prefill per passage, compressed caches (``Cell``) and batched greedy answers.
- ``cache``, ``attention``: the reserved decode cache and the CPU attention dispatcher.
- ``routing``, ``reachability``: first-decode-step routing and evidence reachability.
- ``ledger``: kept KV positions per layer and KV head, packed (torch-free: metrics read it).
- ``batching``: rows of a passage in batches; ``passage``: one passage, prepared, answered, recorded.
- ``job``: one infer job (model, dataset, regime), checkpointed per passage.

Nothing here is imported by this file: the analysis stages import ``ledger`` and
``oracle`` in an image without torch.
"""
