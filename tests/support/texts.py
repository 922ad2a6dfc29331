"""Sample texts shared by the engine and serving tests."""

BEACH_EN = "The weather is nice today, so we are going to the beach."

# Sixteen sentences (about 620 characters): the native engine, given this whole, stops
# after the eleventh sentence; the node must translate every one.
LONG_PARAGRAPH = (
    "My brother lives in Lisbon with his wife. They have two children and a small dog. "
    "Every summer they travel to the mountains. The children like to swim in the river. "
    "In the evening the family eats dinner in the garden. The dog sleeps under the table. "
    "Last year they bought a new car. It is red and very fast. "
    "Next month my brother will start a new job at the hospital. He is a doctor. "
    "His wife teaches mathematics at the university. She loves her students. "
    "On Sundays they visit their grandparents in the village. The grandmother cooks fish and rice. "
    "After lunch everybody walks to the old church. The cat sleeps on the sofa."
)
