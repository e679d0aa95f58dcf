"""Vocabulary and sentence templates for the sample world's other languages (written for this project).

Enough varied, fluent-looking text per language to train and test language identification and a
small perplexity model; names are the same invented ones English uses, so only the language differs.
"""

from __future__ import annotations

# language code -> (slot words, templates, section titles)
LANGS: dict[str, dict] = {
    "de": {
        "words": {
            "settlement": ["Stadt", "Gemeinde", "Marktgemeinde", "Kleinstadt"],
            "adj": ["kleine", "alte", "bekannte", "ruhige", "wichtige", "historische", "ländliche"],
            "industry": ["Landwirtschaft", "Holzverarbeitung", "Weinbau", "Fischerei", "Textilindustrie", "Tourismus"],
            "building": ["Kirche", "Burg", "Brücke", "Mühle", "Bibliothek", "Kapelle"],
            "profession": ["Physiker", "Maler", "Komponist", "Architekt", "Historiker", "Botaniker"],
            "field": ["Optik", "Musik", "Geschichte", "Pflanzenkunde", "Mathematik", "Baukunst"],
            "month": ["Januar", "März", "Mai", "Juli", "September", "November"],
        },
        "templates": [
            "{Name} ist eine {adj} {settlement} im Landkreis {Place}.",
            "Die {settlement} liegt am Ufer der {Place2}, etwa {num} Kilometer von {Place3} entfernt.",
            "Im Jahr {year} hatte {Name} nach der Volkszählung {pop} Einwohner.",
            "Die erste urkundliche Erwähnung stammt aus dem Jahr {year}.",
            "Die Wirtschaft beruht vor allem auf {industry} und {industry2}.",
            "Die {building} wurde im Jahr {year} erbaut und nach einem Brand im Jahr {year2} erneuert.",
            "Der {profession} {Person} wurde {year} in {Place} geboren und studierte {field} in {Place2}.",
            "Er veröffentlichte zahlreiche Arbeiten über {field} und lehrte viele Jahre an der Universität.",
            "Jedes Jahr im {month} findet in der Stadt ein großes Fest statt, zu dem viele Besucher kommen.",
            "Die Umgebung ist von Wäldern und Wiesen geprägt, die zum Wandern einladen.",
            "Während des Krieges wurde ein großer Teil der Altstadt zerstört.",
            "Heute gehört die {building} zu den wichtigsten Sehenswürdigkeiten der Region.",
            "Der Fluss {Place} entspringt in den Bergen und mündet nach {num} Kilometern in die {Place2}.",
            "Das Klima ist gemäßigt, mit warmen Sommern und kalten, schneereichen Wintern.",
            "Seit dem Jahr {year} besitzt der Ort eine eigene Schule und einen Bahnhof.",
        ],
        "sections": ["Geschichte", "Geographie", "Wirtschaft", "Kultur"],
        "siteinfo": ("Wikipedia", "Datei", "Vorlage", "Kategorie", "Benutzer"),
    },
    "fr": {
        "words": {
            "settlement": ["commune", "ville", "petite ville", "bourgade"],
            "adj": ["ancienne", "petite", "célèbre", "paisible", "importante", "historique", "rurale"],
            "industry": ["l'agriculture", "la viticulture", "la pêche", "le tourisme", "l'industrie textile", "l'élevage"],
            "building": ["église", "abbaye", "école", "auberge", "écluse"],
            "profession": ["physicien", "peintre", "compositeur", "architecte", "historien", "botaniste"],
            "field": ["l'optique", "la musique", "l'histoire", "la botanique", "les mathématiques", "l'architecture"],
            "month": ["janvier", "mars", "mai", "juillet", "septembre", "novembre"],
        },
        "templates": [
            "{Name} est une {adj} {settlement} située dans le département de {Place}.",
            "La {settlement} se trouve sur la rive de la {Place2}, à environ {num} kilomètres de {Place3}.",
            "Selon le recensement de {year}, {Name} comptait {pop} habitants.",
            "La première mention écrite du village remonte à l'année {year}.",
            "L'économie locale repose principalement sur {industry} et {industry2}.",
            "L'{building} a été construite en {year} puis restaurée après un incendie en {year2}.",
            "Le {profession} {Person} est né à {Place} en {year} et a étudié {field} à {Place2}.",
            "Il a publié de nombreux travaux sur {field} et a enseigné pendant de longues années.",
            "Chaque année au mois de {month}, une grande fête attire de nombreux visiteurs.",
            "Les environs sont couverts de forêts et de prairies qui se prêtent à la randonnée.",
            "Pendant la guerre, une grande partie de la vieille ville a été détruite.",
            "Aujourd'hui, l'{building} fait partie des monuments les plus visités de la région.",
            "La rivière {Place} prend sa source dans les montagnes et se jette dans la {Place2}.",
            "Le climat est tempéré, avec des étés chauds et des hivers froids et humides.",
            "Depuis {year}, la commune possède sa propre école et une gare ferroviaire.",
        ],
        "sections": ["Histoire", "Géographie", "Économie", "Culture"],
        "siteinfo": ("Wikipédia", "Fichier", "Modèle", "Catégorie", "Utilisateur"),
    },
    "es": {
        "words": {
            "settlement": ["municipio", "pueblo", "lugar", "concejo"],
            "adj": ["antiguo", "pequeño", "conocido", "tranquilo", "importante", "histórico", "rural"],
            "industry": ["la agricultura", "la pesca", "el turismo", "la ganadería", "la industria textil", "el vino"],
            "building": ["iglesia", "catedral", "ermita", "biblioteca", "plaza mayor", "muralla"],
            "profession": ["físico", "pintor", "compositor", "arquitecto", "historiador", "botánico"],
            "field": ["la óptica", "la música", "la historia", "la botánica", "las matemáticas", "la arquitectura"],
            "month": ["enero", "marzo", "mayo", "julio", "septiembre", "noviembre"],
        },
        "templates": [
            "{Name} es un {settlement} {adj} situado en la provincia de {Place}.",
            "El {settlement} se encuentra a orillas del río {Place2}, a unos {num} kilómetros de {Place3}.",
            "Según el censo de {year}, {Name} tenía {pop} habitantes.",
            "La primera mención escrita de la localidad data del año {year}.",
            "La economía local se basa sobre todo en {industry} y {industry2}.",
            "La {building} fue construida en {year} y restaurada después de un incendio en {year2}.",
            "El {profession} {Person} nació en {Place} en {year} y estudió {field} en {Place2}.",
            "Publicó numerosos trabajos sobre {field} y fue profesor durante muchos años.",
            "Cada año en el mes de {month} se celebra una gran fiesta que atrae a muchos visitantes.",
            "Los alrededores están cubiertos de bosques y prados que invitan a pasear.",
            "Durante la guerra una gran parte del casco antiguo quedó destruida.",
            "Hoy en día la {building} es uno de los monumentos más visitados de la comarca.",
            "El río {Place} nace en las montañas y desemboca en el {Place2} después de {num} kilómetros.",
            "El clima es templado, con veranos calurosos e inviernos fríos y lluviosos.",
            "Desde {year} el pueblo cuenta con una escuela propia y una estación de tren.",
        ],
        "sections": ["Historia", "Geografía", "Economía", "Cultura"],
        "siteinfo": ("Wikipedia", "Archivo", "Plantilla", "Categoría", "Usuario"),
    },
    "it": {
        "words": {
            "settlement": ["comune", "paese", "borgo", "villaggio"],
            "adj": ["antico", "piccolo", "famoso", "tranquillo", "importante", "storico", "rurale"],
            "industry": ["l'agricoltura", "la pesca", "il turismo", "l'allevamento", "l'industria tessile", "la viticoltura"],
            "building": ["chiesa", "cattedrale", "cappella", "biblioteca", "torre", "fontana"],
            "profession": ["fisico", "pittore", "compositore", "architetto", "storico", "botanico"],
            "field": ["l'ottica", "la musica", "la storia", "la botanica", "la matematica", "l'architettura"],
            "month": ["gennaio", "marzo", "maggio", "luglio", "settembre", "novembre"],
        },
        "templates": [
            "{Name} è un {settlement} {adj} situato nella provincia di {Place}.",
            "Il {settlement} si trova sulla riva del fiume {Place2}, a circa {num} chilometri da {Place3}.",
            "Secondo il censimento del {year}, {Name} contava {pop} abitanti.",
            "La prima menzione scritta del paese risale all'anno {year}.",
            "L'economia locale si basa soprattutto su {industry} e {industry2}.",
            "La {building} fu costruita nel {year} e restaurata dopo un incendio nel {year2}.",
            "Il {profession} {Person} nacque a {Place} nel {year} e studiò {field} a {Place2}.",
            "Pubblicò numerosi lavori su {field} e insegnò per molti anni all'università.",
            "Ogni anno nel mese di {month} si tiene una grande festa che attira molti visitatori.",
            "I dintorni sono coperti da boschi e prati che invitano a passeggiare.",
            "Durante la guerra gran parte del centro storico venne distrutta.",
            "Oggi la {building} è uno dei monumenti più visitati della zona.",
            "Il fiume {Place} nasce dalle montagne e sfocia nel {Place2} dopo {num} chilometri.",
            "Il clima è temperato, con estati calde e inverni freddi e piovosi.",
            "Dal {year} il paese dispone di una propria scuola e di una stazione ferroviaria.",
        ],
        "sections": ["Storia", "Geografia", "Economia", "Cultura"],
        "siteinfo": ("Wikipedia", "File", "Template", "Categoria", "Utente"),
    },
    "ru": {
        "words": {
            "settlement": ["город", "посёлок", "городок"],
            "adj": ["небольшой", "старинный", "известный", "тихий", "важный", "исторический"],
            "industry": ["сельское хозяйство", "рыболовство", "туризм", "деревообработка", "текстильное производство", "виноделие"],
            "building": ["церковь", "крепость", "библиотека", "ратуша", "мельница", "часовня"],
            "profession": ["физик", "художник", "композитор", "архитектор", "историк", "ботаник"],
            "field": ["оптику", "музыку", "историю", "ботанику", "математику", "архитектуру"],
            "month": ["январе", "марте", "мае", "июле", "сентябре", "ноябре"],
        },
        "templates": [
            "{Name} — {adj} {settlement} в северной части области {Place}.",
            "Он расположен на берегу реки {Place2}, примерно в {num} километрах от {Place3}.",
            "По данным переписи {year} года, население составляло {pop} человек.",
            "Первое письменное упоминание о поселении относится к {year} году.",
            "Основу местной экономики составляют {industry} и {industry2}.",
            "Главная {building} была построена в {year} году и восстановлена после пожара в {year2} году.",
            "{profession_cap} {Person} родился в {Place} в {year} году и изучал {field} в {Place2}.",
            "Он опубликовал множество работ и много лет преподавал в университете.",
            "Каждый год в {month} здесь проходит большой праздник, который привлекает многих гостей.",
            "Окрестности покрыты лесами и лугами, которые подходят для пеших прогулок.",
            "Во время войны значительная часть старого города была разрушена.",
            "Сегодня эта {building} считается одной из главных достопримечательностей района.",
            "Река {Place} берёт начало в горах и впадает в {Place2} через {num} километров.",
            "Климат умеренный, лето тёплое, а зима холодная и снежная.",
            "С {year} года в посёлке работают собственная школа и железнодорожная станция.",
        ],
        "sections": ["История", "География", "Экономика", "Культура"],
        "siteinfo": ("Википедия", "Файл", "Шаблон", "Категория", "Участник"),
    },
}  # fmt: skip

# Invented-name transliteration for Cyrillic text ("Velmora" -> "Вельмора"-like), letter by letter.
CYRILLIC = {
    "a": "а", "b": "б", "c": "к", "d": "д", "e": "е", "f": "ф", "g": "г", "h": "х", "i": "и", "j": "й",
    "k": "к", "l": "л", "m": "м", "n": "н", "o": "о", "p": "п", "q": "к", "r": "р", "s": "с", "t": "т",
    "u": "у", "v": "в", "w": "в", "x": "кс", "y": "ы", "z": "з",
}  # fmt: skip


def cyrillic(name: str) -> str:
    """Transliterate an invented Latin-letter name into Cyrillic letters."""
    out = "".join(CYRILLIC.get(c.lower(), c) for c in name)
    return out[:1].upper() + out[1:]
