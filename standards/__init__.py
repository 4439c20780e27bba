"""The machine-readable control catalogues (data): GB/T 22239-2019 and GB/T 39786-2021 with their schema and
the scoring configuration. A package only so that an installed wheel carries them
(``importlib.resources.files("standards")``); it holds no code.
"""
