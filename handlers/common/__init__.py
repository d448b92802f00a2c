"""What several flows share, channel-free: the "where was this?" step."""
