"""Learned heads: small classifiers over a frozen encoder's features, taught from a folder of labelled clips.

`features` turns a clip into a fixed-length vector (Whisper base's encoder, pooled over the speech);
`head` is the trained classifier and its file format (arrays and JSON, nothing executed on load);
`learn` trains and cross-validates one (`copilot learn`); `store` finds the installed heads (the cache
folder's ``heads/``, the ``speech_copilot.heads`` entry point and the heads shipped here); `tools` makes
each one a tool the planner can call.
"""
