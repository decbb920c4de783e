/* This edition's PDF is not part of the site: its links stay hidden. */
