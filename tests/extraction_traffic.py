"""Generated traffic for the extraction detector's tests: benign questions and probing.

Every text is written for these tests or built in code from the small word lists below.
"""

from __future__ import annotations

import random

#: Natural questions a person asks an assistant over a working day, on many topics.
BENIGN_QUESTIONS: tuple[str, ...] = (
    "How do I reverse a list in Python without changing the original?",
    "What's a good vegetarian dish I can cook in under twenty minutes?",
    "Can you explain what a mortgage offset account is?",
    "Why does my sourdough starter smell like nail polish remover?",
    "Summarise the main causes of the First World War in a paragraph.",
    "Which is better for a beginner runner, a 5k plan or a couch-to-10k plan?",
    "Draft a polite email asking my landlord to fix the boiler.",
    "What does HTTP status 418 mean?",
    "How many grams of protein are in a boiled egg?",
    "Translate 'where is the train station' into Portuguese.",
    "What is the difference between a Roth IRA and a traditional IRA?",
    "Give me three ideas for a seven-year-old's birthday party at home.",
    "How do I remove a red wine stain from a wool carpet?",
    "Explain gradient descent to someone who knows high-school maths.",
    "What time zone is Reykjavik in during the winter?",
    "Why is the sky darker blue at high altitude?",
    "Write a haiku about waiting for a delayed bus.",
    "How should I store fresh basil so it doesn't wilt?",
    "What are the visa rules for a short business trip to Japan?",
    "Recommend a board game for four adults who like strategy.",
    "What's the quickest way to learn touch typing?",
    "Is it safe to give a dog grapes?",
    "How do I set up a cron job that runs every Monday at 7am?",
    "Can you check the grammar of: 'Me and him goes to the market yesterday'?",
    "What were the key findings of the Stern Review on climate change?",
    "Suggest a name for a small bakery that specialises in rye bread.",
    "How does a heat pump work in cold weather?",
    "What should I pack for a three-day hike in the Scottish Highlands?",
    "Explain the offside rule in football simply.",
    "How much water should a houseplant like a monstera get each week?",
    "What's the etymology of the word 'quarantine'?",
    "How can I politely decline a meeting invitation?",
    "Compare PostgreSQL and SQLite for a small web app.",
    "Why do onions make you cry, chemically speaking?",
    "Give me a five-minute stretching routine for my lower back.",
    "What are the symptoms of vitamin D deficiency?",
    "How do I calculate compound interest over ten years?",
    "Write a short toast for my sister's wedding.",
    "What is the plot of Chekhov's 'The Cherry Orchard'?",
    "How do noise-cancelling headphones actually cancel noise?",
    "Which houseplants are safe for cats?",
    "Help me plan a budget for a family of four on a modest income.",
    "What's the best way to prepare for a behavioural job interview?",
    "How long does it take light from the Sun to reach Mars?",
    "Can you explain what a git rebase does compared with a merge?",
    "Why are flamingos pink?",
    "What are some good questions to ask at a parent-teacher meeting?",
    "How do I convert a Word document to PDF on a Mac?",
    "Explain the difference between weather and climate.",
    "What's a simple recipe for homemade lemonade?",
    "How do I know if my car battery needs replacing?",
    "Describe the water cycle for a ten-year-old.",
    "Which programming language should I learn first for data analysis?",
    "What is the capital of Mongolia and what is it known for?",
    "How do I negotiate a higher salary in a job offer?",
    "What causes the northern lights?",
    "Suggest a reading list on the history of mathematics.",
    "How can I make my home office quieter?",
    "What does a product manager do day to day?",
    "How do vaccines train the immune system?",
    "Write a limerick about a cat who hates Mondays.",
    "What are the rules of pétanque?",
    "How do I fix a leaking kitchen tap?",
    "Explain inflation and why central banks raise interest rates.",
    "What should I look for when buying a second-hand bicycle?",
    "How do I make a spreadsheet formula that ignores blank cells?",
    "What's the difference between baking soda and baking powder?",
    "Why does ice float on water?",
    "Give me tips for sleeping better on long-haul flights.",
    "How do I teach my parrot to say a new word?",
    "What is the Pythagorean theorem used for in real life?",
    "Can you outline a beginner's weekly gym plan?",
    "What are the pros and cons of solar panels on a north-facing roof?",
    "How do I write a cover letter for a nursing position?",
    "Explain what a blockchain is without the hype.",
    "Where can I see puffins in Iceland in June?",
    "How do I cancel a direct debit with my bank?",
    "What's a polite way to remind a colleague about a deadline?",
    "How many cups of coffee a day is too many?",
    "Explain recursion with a real-world analogy.",
)

_SUBJECTS = ("movie", "laptop", "hotel", "restaurant", "phone", "novel", "jacket", "album")
_ADJECTIVES = (
    "great",
    "terrible",
    "okay",
    "amazing",
    "disappointing",
    "average",
    "superb",
    "awful",
    "decent",
    "mediocre",
)
_ASPECTS = ("price", "service", "battery", "plot", "staff", "sound", "design", "delivery")
_WORDS = [
    "river",
    "table",
    "quantum",
    "orange",
    "violin",
    "ledger",
    "basalt",
    "crimson",
    "parcel",
    "whistle",
    "lantern",
    "harbour",
    "falcon",
    "static",
    "meadow",
    "prism",
    "copper",
    "velvet",
    "anchor",
    "thunder",
    "syntax",
    "glacier",
    "pepper",
    "circuit",
    "marble",
    "ember",
    "tundra",
    "compass",
    "orbit",
    "saffron",
]


def extraction_queries(n: int, seed: int = 7) -> list[str]:
    """``n`` systematically varied synthetic queries, as a model-stealing client sends.

    A mix of a fill-in template with swapped words (grid-like probing over subject,
    adjective and aspect), random word lists and near-duplicate re-asks.
    """
    rng = random.Random(seed)
    out: list[str] = []
    while len(out) < n:
        kind = rng.random()
        if kind < 0.6:
            s, a, p, b = (
                rng.choice(_SUBJECTS),
                rng.choice(_ADJECTIVES),
                rng.choice(_ASPECTS),
                rng.choice(_ADJECTIVES),
            )
            out.append(f"Classify the sentiment: The {s} was {a} and the {p} was {b}.")
        elif kind < 0.85:
            out.append(" ".join(rng.sample(_WORDS, rng.randint(3, 7))))
        else:
            s, a = rng.choice(_SUBJECTS), rng.choice(_ADJECTIVES)
            out.append(f"Classify the sentiment: The {s} was {a}.")
    return out


def benign_session(n: int, seed: int) -> list[str]:
    """``n`` distinct natural questions in a principal-specific order."""
    rng = random.Random(seed)
    return rng.sample(BENIGN_QUESTIONS, n)
