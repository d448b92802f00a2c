"""SMS, a channel of plain texts: numbered choices stand for buttons, places are typed."""
