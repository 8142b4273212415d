GRÜSSE = "héllo 🌍"


def größe(x):  # ünïcode
    return x


class Café:
    def naïve(self):
        return "ok"
