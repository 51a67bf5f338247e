# ruff: noqa: RUF002 (Arabic letters are this file's subject, not look-alikes)
"""The stopwords that search drops from documents and queries alike.

Small on purpose: a word dropped here can never be searched for. English is Lucene's
classic English stop set (33 words) plus the auxiliaries a claim's text is full of
(has, have, had, were, been, ...). Arabic is the prepositions, pronouns, demonstratives,
relatives and particles of news prose. Both are checked on the folded form, before
stemming (English lower-cased and without accents, Arabic normalised: alef forms unified,
ة as ه, ى as ي), and an Arabic stopword behind the conjunction و or ف (وفي) is one
too. That normalisation makes على (on) and the name علي (Ali) one word: Ali cannot be
searched alone, a price of matching what people type.
"""

ENGLISH = """
a an and are as at be been but by for from had has have if in into is it its
no not of on or such that the their then there these they this those to was
were will with which who whom
"""

# As written; app/search/analysis.py folds both lists the way it folds text.
ARABIC = """
في من على إلى عن مع أن إن أو أم ثم حتى بين بعد قبل عند منذ خلال ضد نحو لدى
هذا هذه ذلك تلك هؤلاء أولئك هناك هنا
الذي التي الذين اللذين اللتين اللواتي
هو هي هم هما هن أنا نحن أنت أنتم
ما ماذا لا لم لن قد كان كانت يكون تكون ليس لقد أي كل غير
"""
