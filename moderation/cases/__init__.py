"""Cases as staff run them: lifecycle, matches, families, reunions, scams."""
