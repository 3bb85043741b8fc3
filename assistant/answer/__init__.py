"""The answer layer: making, checking and deciding an answer from the sentences a model is shown.

One job a module, in the order an answer passes through them (pipeline.py drives it):
- strategies.py: the ways of answering (`select` evidence first, `free` prose, `extractive` quotes);
- direct.py: the first line made from the chosen sentences (the model's answer as a span of them);
- decision.py: the one decision (answer, say "not stated plainly", or refuse) from named signals;
- citations.py: [n] markers resolved to passages, quotes and offsets;
- support.py, reading with claims.py: each answer sentence against the passage it cites;
- grounding.py: what a question asks for and what a model's text says (refusals, figures, names);
- values.py, disagreements.py: figures and dates as comparable values; another article's different one.
"""
