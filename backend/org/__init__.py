"""Region tree (county → town → village → grid → household), residents, cadres, postings, pairings."""
