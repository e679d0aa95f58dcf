"""English vocabulary and sentence templates for the sample world, written for this project.

The grammar is deliberately rich (hundreds of words, many templates per topic) so that a 5-gram
KenLM trained on the sample English Wikipedia models held-out encyclopedic pages well, while word
salad drawn from the same words and keyword spam score clearly worse. Slots are `{name}` fields
filled by `lamina.sample.text`; a slot may carry a digit suffix (`{place2}`) to draw a second value.
"""

from __future__ import annotations

WORDS: dict[str, list[str]] = {
    "adj": [
        "ancient", "small", "large", "narrow", "wide", "quiet", "busy", "historic", "prominent",
        "notable", "important", "modest", "early", "distinctive", "ornate", "simple", "rare",
        "common", "elegant", "sturdy", "remote", "fertile", "rocky", "steep", "gentle", "shallow",
        "deep", "famous", "regional", "traditional", "unusual", "remarkable", "spacious", "compact",
    ],
    "dir": ["northern", "southern", "eastern", "western", "central", "north-eastern", "south-western"],
    "settlement": ["town", "village", "market town", "city", "municipality", "settlement", "borough"],
    "region": ["province", "district", "county", "valley", "highland region", "coastal plain", "river basin"],
    "industry": [
        "agriculture", "fishing", "forestry", "textile production", "wine making", "light industry",
        "tourism", "stone quarrying", "dairy farming", "shipbuilding", "pottery", "paper making",
        "glass making", "brewing", "metal working", "timber trade", "printing", "salt mining",
    ],
    "building": [
        "church", "town hall", "castle", "bridge", "market hall", "monastery", "lighthouse",
        "library", "railway station", "watermill", "cathedral", "fortress", "manor house", "chapel",
        "observatory", "theatre", "museum", "windmill", "harbour", "tower",
    ],
    "material": ["stone", "brick", "timber", "limestone", "granite", "sandstone", "marble", "iron", "oak"],
    "style": ["Gothic", "Baroque", "Romanesque", "neoclassical", "Renaissance", "modernist", "vernacular"],
    "climate": ["mild", "temperate", "continental", "maritime", "dry", "humid", "cool"],
    "season_adj": ["warm", "hot", "cool", "wet", "dry", "long", "short", "cold", "snowy", "sunny"],
    "water": ["river", "lake", "stream", "canal", "estuary", "bay", "reservoir"],
    "landform": ["hills", "mountains", "plateau", "forest", "marshes", "cliffs", "dunes", "meadows", "moorland"],
    "profession": [
        "physicist", "chemist", "botanist", "astronomer", "mathematician", "composer", "painter",
        "architect", "historian", "engineer", "geologist", "novelist", "poet", "sculptor",
        "philosopher", "cartographer", "physician", "economist", "linguist", "explorer",
    ],
    "field": [
        "optics", "thermodynamics", "plant anatomy", "celestial mechanics", "number theory",
        "chamber music", "landscape painting", "bridge design", "medieval history", "hydraulics",
        "mineralogy", "folk poetry", "marine biology", "public health", "linguistics", "soil science",
        "electrical engineering", "ancient languages", "crystallography", "statistics",
    ],
    "institution": [
        "university", "academy of sciences", "royal society", "conservatory", "polytechnic school",
        "national museum", "botanical garden", "naval college", "medical school", "observatory",
    ],
    "work": [
        "treatise", "study", "monograph", "series of lectures", "textbook", "symphony", "opera",
        "collection of essays", "set of engravings", "survey", "catalogue", "handbook", "memoir",
    ],
    "award": ["gold medal", "national prize", "honorary doctorate", "silver medal", "lifetime award"],
    "animal": ["bird", "beetle", "frog", "fish", "butterfly", "bat", "lizard", "moth", "snail", "owl"],
    "plant": ["shrub", "fern", "orchid", "grass", "moss", "herb", "vine", "tree", "lily", "sedge"],
    "habitat": [
        "wet meadows", "mountain forests", "rocky slopes", "coastal dunes", "river banks",
        "lowland marshes", "open grassland", "limestone caves", "pine woods", "alpine pastures",
    ],
    "colour": ["brown", "grey", "green", "yellow", "red", "pale", "dark", "black", "white", "blue"],
    "body_part": ["wings", "leaves", "feathers", "flowers", "legs", "eyes", "scales", "fins", "petals", "antennae"],
    "food": ["insects", "seeds", "small fish", "snails", "worms", "nectar", "berries", "algae", "leaves"],
    "craft": [
        "weaving", "bookbinding", "clock making", "glass blowing", "bell founding", "lace making",
        "boat building", "basket weaving", "wood carving", "instrument making", "tanning", "dyeing",
    ],
    "tool": ["loom", "lathe", "kiln", "press", "chisel", "furnace", "anvil", "spindle", "mould", "frame"],
    "event": ["festival", "fair", "regatta", "pilgrimage", "market", "procession", "tournament", "exhibition"],
    "month": [
        "January", "February", "March", "April", "May", "June", "July", "August", "September",
        "October", "November", "December",
    ],
    "ordinal": ["twelfth", "thirteenth", "fourteenth", "fifteenth", "sixteenth", "seventeenth", "eighteenth", "nineteenth"],
    "verb_built": ["built", "completed", "founded", "rebuilt", "enlarged", "consecrated", "designed"],
    "ruler": ["duke", "bishop", "count", "king", "abbot", "city council", "merchant guild", "prince"],
    "conflict": ["war", "siege", "fire", "flood", "plague", "rebellion", "earthquake", "famine"],
    "commerce": [
        "retail", "online shopping", "mail order", "consumer electronics", "customer service",
        "internet forums", "advertising", "home improvement", "product reviews", "delivery services",
    ],
    "goods": [
        "furniture", "clothing", "books", "tools", "kitchen equipment", "bicycles", "garden supplies",
        "household goods", "toys", "cameras", "shoes", "coffee", "tea", "stationery",
    ],
    "person_first": [
        "Anna", "Johann", "Marie", "Thomas", "Elena", "Henrik", "Clara", "Pieter", "Sofia", "Karl",
        "Lucia", "Oskar", "Ingrid", "Matteo", "Helena", "Viktor", "Agnes", "Bruno", "Edith", "Felix",
    ],
}  # fmt: skip

FEMALE_FIRST = {"Anna", "Marie", "Elena", "Clara", "Sofia", "Lucia", "Ingrid", "Helena", "Agnes", "Edith"}

# Syllables for invented proper names ("Velmora", "Ostbrand"): no real place is described.
NAME_START = [
    "Vel",
    "Ost",
    "Bran",
    "Kor",
    "Al",
    "Mer",
    "Tal",
    "Hol",
    "Ren",
    "Sar",
    "Dun",
    "Ev",
    "Lin",
    "Gar",
    "Nor",
    "Fal",
    "Wes",
    "Ber",
    "Cal",
    "Mor",
    "Tor",
    "Ash",
    "Eld",
    "Har",
    "Kel",
    "Stra",
    "Quen",
    "Bel",
]
NAME_MID = ["", "", "a", "e", "i", "o", "en", "ar", "ol", "in", "ad"]
NAME_END = [
    "mora",
    "brand",
    "wick",
    "dale",
    "ford",
    "holm",
    "stead",
    "mere",
    "ton",
    "by",
    "haven",
    "rith",
    "grove",
    "burg",
    "ley",
    "moor",
    "ness",
    "wald",
    "sund",
    "mark",
    "field",
    "more",
    "stow",
    "brook",
]

# Sentence templates per topic. Every topic also uses GENERAL templates.
TEMPLATES: dict[str, list[str]] = {
    "town": [
        "{Name} is a {adj} {settlement} in the {dir} part of the {Place} {region}.",
        "The {settlement} lies on the bank of the {water} {Place2}, about {num} kilometres from {Place3}.",
        "According to the census of {year}, {Name} had a population of {pop} inhabitants.",
        "The first written record of {Name} dates from {year}, when it was mentioned in a charter issued by the {ruler} of {Place}.",
        "During the {ordinal} century the {settlement} grew into an important centre of {industry} and {craft}.",
        "The local economy is based on {industry} and {industry2}, and to a lesser extent on {industry3}.",
        "{Name} is known for its {adj} {building}, which was {verb_built} in {year} and restored in {year2}.",
        "The {settlement} is served by a railway station on the line between {Place} and {Place2}.",
        "The climate of the {region} is {climate}, with {season_adj} summers and {season_adj2} winters.",
        "A {event} has been held in {Name} every {month} since {year}, and it attracts visitors from the whole {region}.",
        "Much of the old town was destroyed by a {conflict} in {year} and was rebuilt in {material} over the following decades.",
        "The surrounding {landform} are used for {industry}, while the lower ground along the {water} is farmed.",
        "The {settlement} council consists of {small} members who are elected every four years.",
        "Several streets in the centre still follow the plan laid out by the {ruler} in the {ordinal} century.",
        "The market square is surrounded by {material} houses, many of which belonged to merchants in the {ordinal} century.",
    ],
    "river": [
        "The {Name} is a {adj} {water} in the {dir} part of the {Place} {region}.",
        "It rises in the {landform} near {Place2} and flows for about {num} kilometres before it joins the {Place3}.",
        "The {water} drains a basin of roughly {pop} square kilometres, most of which is covered by {habitat}.",
        "Its main tributaries are the {Place} and the {Place2}, both of which rise in the {landform} to the {compass}.",
        "In the {ordinal} century the {water} was an important route for the {industry} trade.",
        "A {material} bridge across the {Name} was {verb_built} at {Place} in {year}.",
        "The lower course of the {water} was straightened in {year} to protect the surrounding fields from floods.",
        "The banks of the {Name} are home to many species of {animal}, including the rare {colour} {animal2}.",
        "The water level is highest in {month} and lowest at the end of the summer.",
        "Several mills were built along the {water} in the {ordinal} century to grind grain and to saw timber.",
        "The valley of the {Name} has been protected as a nature reserve since {year}.",
        "Fishing in the {water} is regulated by the {region} authorities, who release young fish every spring.",
    ],
    "mountain": [
        "{Name} is a mountain in the {Place} range, with a summit at {elev} metres above sea level.",
        "It is the highest point of the {dir} {region} and can be seen from {Place2} on clear days.",
        "The mountain is formed mainly of {material}, which was quarried on its lower slopes until {year}.",
        "The first recorded ascent of {Name} was made in {year} by the {profession} {Person}.",
        "The slopes are covered by {habitat} up to about {small_elev} metres, above which only grasses and mosses grow.",
        "A marked trail leads from the village of {Place3} to the summit in about {small} hours.",
        "Snow usually covers the upper part of the mountain from {month} until {month2}.",
        "A small {building} was {verb_built} on the summit ridge in {year} and is still used by walkers.",
        "The mountain gives its name to a {adj} {animal} that lives only on its northern slopes.",
        "Geologists have studied the folded {material} layers of {Name} since the {ordinal} century.",
    ],
    "person": [
        "{Person} ({year} - {year2}) was a {adj_nat} {profession} known for work on {field}.",
        "{Person_last} was born in {Place}, where {poss} father worked as a {profession2}.",
        "{Pronoun} studied {field} at the {institution} of {Place2} and graduated in {year}.",
        "In {year} {Person_last} published a {work} on {field}, which was widely read in the following decades.",
        "{Pronoun} later became a professor at the {institution} of {Place3}, where {pronoun} taught for {small} years.",
        "{Person_last} corresponded with many scholars of the time and kept detailed notes of {poss} experiments.",
        "In {year} {pronoun} received the {award} of the {institution} for {poss} contributions to {field}.",
        "{Pronoun} spent the last years of {poss} life in {Place}, where {pronoun} died in {year2}.",
        "A street in {Place2} and a {building} in {Place3} are named after {Person_last}.",
        "The papers of {Person_last} are kept in the archive of the {institution} of {Place}.",
        "{Pronoun} is remembered as one of the founders of modern {field} in the {region}.",
        "Among {poss} students were several who later became known in {field2}.",
    ],
    "species": [
        "The {colour} {Name} {animal} is a species of {animal} found in the {habitat} of the {Place} {region}.",
        "It was first described by the {profession} {Person} in {year}.",
        "Adults reach a length of about {small} centimetres and have {colour} {body_part} with {colour2} markings.",
        "The species feeds mainly on {food} and {food2}, which it finds in {habitat}.",
        "It breeds between {month} and {month2}, and the young leave the nest after a few weeks.",
        "The population has declined since {year} because of the drainage of {habitat}.",
        "It is listed as a protected species in the {Place} {region}.",
        "The {Name} {plant} grows in {habitat} and flowers from {month} to {month2}.",
        "Its {body_part} are {colour} and about {small} centimetres long.",
        "Local people once used the {plant} to make dyes and simple remedies.",
        "The species is closely related to the {colour} {animal2} of the {dir} {region}.",
    ],
    "building": [
        "The {Name} {building} is a {style} {building} in the town of {Place}.",
        "It was {verb_built} between {year} and {year2} on the orders of the {ruler} of {Place2}.",
        "The {building} is built of {material} and has a {adj} tower about {small_elev} metres high.",
        "The interior contains {adj} carvings in {material} and a painted ceiling from the {ordinal} century.",
        "After a {conflict} in {year} the {building} was partly destroyed and later rebuilt in the {style} style.",
        "The architect {Person} added a new wing to the {building} in {year}.",
        "Since {year} the {building} has housed a {institution} that is open to visitors.",
        "The {building} was listed as a protected monument in {year}.",
        "A {adj} garden behind the {building} was laid out in the {ordinal} century.",
        "Regular concerts are held in the main hall during the summer {event}.",
    ],
    "craft": [
        "{Name} {craft} is a traditional form of {craft} practised in the {Place} {region}.",
        "The craft developed in the {ordinal} century, when workshops in {Place2} began to supply the {ruler} of {Place3}.",
        "Craftsmen use a {tool} and a {tool2} made of {material}, and a single piece can take {small} weeks to finish.",
        "The patterns are usually {colour} and {colour2} and often show birds, leaves and flowers.",
        "By {year} more than {num} workshops were active in the {region}.",
        "The decline of the craft began when factories in {Place} started to produce cheaper goods.",
        "A {institution} in {Place2} has collected examples of {Name} work since {year}.",
        "Today the technique is taught in a small school that was founded in {year}.",
        "The craft was added to the national list of intangible heritage in {year}.",
    ],
    "commerce": [
        "{Commerce_cap} is the sale of {goods} and other goods to consumers for their own use.",
        "The history of {commerce} in the {Place} {region} begins with the weekly markets of the {ordinal} century.",
        "In the {ordinal} century merchants in {Place2} sold {goods} and {goods2} from small shops in the town centre.",
        "Large department stores appeared in {Place} in {year}, and mail order catalogues followed soon after.",
        "Since the growth of the internet, many customers order {goods} online and receive them by post.",
        "Online shops usually offer delivery to the home, and many also accept returns within a fixed period.",
        "Customer reviews and internet forums became an important source of information about products after {year}.",
        "Studies of consumer behaviour show that price, delivery time and service influence where people buy {goods}.",
        "Small shops in the {region} often compete with large online retailers by offering advice and repairs.",
        "The {institution} of {Place3} published a study on {commerce} in {year}.",
    ],
    "everyday": [
        "{Name} is a common subject of research on {commerce} and on everyday life in the {region}.",
        "Online shops often offer free shipping on all orders over a fixed amount, and many customers wait for a sale before they buy.",
        "A discount code is entered at the checkout, and the shop then reduces the price of the order, for example by ten percent.",
        "Most shops promise that orders arrive within a few business days, and customers can sign in to an account to track an order.",
        "Customers who are not happy with a product can usually send it back within thirty days for a full refund.",
        "Rewards points and club membership are used to make customers return, for example by offering to save ten percent on the first order.",
        "Shops describe their products with phrases such as great value for money or made by hand, and they often add pictures.",
        "Internet forums are websites where users post messages, ask whether a product is worth the money, and reply to each other.",
        "Forum posts are usually informal, and users write short replies such as thanks for the tip or sorry for the late reply.",
        "Common abbreviations include lol, for laughing out loud, and many users write haha or ok so to start an answer.",
        "A typical thread starts with a question, for example whether anyone else is going to a {event}, and other users answer with their own experience.",
        "Users often post an update after they try a suggestion, for example that they returned a broken product and got a better one instead.",
        "Travel forums collect reports from visitors who stayed two nights in a town and describe the food, the hotel and the sights.",
        "Many visitors say that a guided tour of an old {building} is worth a visit, and tours often include a free drink.",
        "Small shops that sell goods made by hand using traditional {craft} often use online shops to reach customers in other states.",
        "Customer service teams answer calls and emails and help customers choose the right product, although some say that support never answered.",
        "Studies show that people read reviews and look at pictures before they buy, and that the advice of a friend or a brother is often trusted more.",
        "A summer sale usually ends on a fixed day, after which prices go back up, and shops use words such as hurry to make customers order now.",
        "Some people learn a craft from videos or from forum posts, and beginners often write that they have no idea where to start.",
        "Hotels in the centre of old towns are popular with visitors, although guests sometimes write that the rooms are a bit noisy.",
        "When a product sells out, shops often let customers add it to a list and send an email when it is back in stock.",
        "Many users say that they are not sure what to buy, and other users tell them honestly that the cheaper one is often good enough.",
        "Customers who bought one product are often shown a matching product or a book, and this raises the value of each order.",
        "A typical first post reads: \"Hey everyone, I just got back from the town and honestly the old castle was amazing.\"",
        "Replies are often short, such as \"Lol same here, mine broke after two weeks\" or \"Haha that made my day, thanks guys.\"",
        "Users ask questions such as \"Does anyone know if it is worth the money or should I wait?\" and others answer within minutes.",
        "Typical advice reads: \"Honestly I think you are overthinking it, just get the cheaper one and be happy.\"",
        "A shop page may say: \"We ship to all states, and if you are not happy with your order, just send it back.\"",
        "Posts such as \"Can someone post a picture? I want to see how big it actually is.\" show how users ask each other for help.",
        "Some users write: \"I am not sure about that, but my friend said the shop near her place has it on sale.\"",
        "An update might say: \"Ok so I returned it and got the other one instead, way better, thanks for the tip.\"",
        "Visitors write reviews such as \"We stayed two nights and the food was great, but the hotel was a bit noisy.\"",
        "Shops tell customers: \"Call our friendly team today and we will help you choose the right product for your home.\"",
        "Polite replies such as \"Thanks for the tip, I will try that tonight and let you know how it goes.\" are common.",
        "Meetings are planned in threads such as \"Anyone else going next Saturday? I can bring snacks if you want.\"",
        "Recommendations are often second hand: \"My brother went there last summer and he says it is totally worth a visit.\"",
        "Shops ask customers to add a product to the cart and to use a code at checkout to get a discount.",
        "Advertisements say \"Hurry, the summer sale ends on Sunday\" or \"Join our club and save ten percent on your first order.\"",
        "Reviews praise great value for money or say that a product looks even better than in the pictures.",
        "Shops show lists headed \"Customers who bought this also bought\" beside each product.",
        "Users apologise with phrases such as \"Sorry for the late reply, work has been crazy this week.\"",
        "Popular products in such shops include the {goods_sing}, the {goods_sing2}, the {goods_sing3} and the {goods_sing4}.",
        "Hotels invite visitors to book a stay in the centre of the town and offer a free tour of the old {building} or a free drink.",
        "Small workshops sell products made of {material} in many colours, and buyers are told to order now before the stock sells out.",
    ],
    "spam": [
        "{Name} is the practice of filling web pages with repeated keywords such as {spam}, {spam2} and {spam3}.",
        "Spam pages repeat keywords such as {spam}, {spam2}, {spam3} and {spam4} to rank higher in search engines.",
        "A typical spam page lists words like {spam}, {spam2} and {spam3} many times, often with links to a shop or a casino.",
        "Search engines lower the rank of pages that repeat keywords such as {spam} or {spam2} without any real content.",
        "Common keywords on such pages include {spam}, {spam2}, {spam3}, {spam4} and {spam5}, usually in no particular order.",
        "Such pages often promise the best price, free shipping and a bonus for anyone who clicks now.",
        "Lists of keywords such as {spam}, {spam2} and {spam3} are sometimes hidden in white text at the bottom of a page.",
        "Other examples are the words {spam}, {spam2}, {spam3} and {spam4}, which appear in many advertisements.",
        "Filters learn that words such as {spam}, {spam2} or {spam3} are more common on spam pages than on other pages.",
    ],
    "general": [
        "The {adj} {building} in the centre of {Place} was {verb_built} in {year}.",
        "In {year} the {ruler} of {Place} granted the town the right to hold a weekly market.",
        "The area has been inhabited since prehistoric times, as finds of {material} tools show.",
        "The name is first recorded in {year} and probably comes from an old word for a {water} or a {landform_sing}.",
        "A detailed description of the {region} was published by the {profession} {Person} in {year}.",
        "Many of the original records were lost in a {conflict} in {year}.",
        "Since {year} the site has been studied by researchers from the {institution} of {Place2}.",
        "The {region} is linked to {Place3} by a road that follows the old trade route along the {water}.",
        "Its history is closely connected with that of the nearby {settlement} of {Place}.",
        "Between {year} and {year2} the population fell sharply because of {conflict} and emigration.",
        "The museum in {Place} holds a collection of objects related to the history of the {region}.",
        "Today the area is popular with walkers, and several marked trails lead through the {landform}.",
        "The {ordinal} century was a period of growth, during which new roads and bridges were built.",
        "A map drawn in {year} shows the {settlement} surrounded by fields, orchards and {habitat}.",
        "Local tradition holds that the first settlers came from {Place2} in the {ordinal} century.",
        "Archaeological excavations in {year} uncovered the foundations of a {material} {building}.",
        "The {event} held every {month} recalls an old custom connected with {craft}.",
        "The first school in the area was opened in {year} in a former {building}.",
        "Records from the {ordinal} century mention {industry} and {craft} as the main occupations.",
        "During the {conflict} of {year} many inhabitants moved to {Place3}, and some never returned.",
    ],
}  # fmt: skip

SECTIONS: dict[str, list[str]] = {
    "town": ["History", "Geography", "Economy", "Culture", "Transport"],
    "river": ["Course", "History", "Wildlife", "Protection"],
    "mountain": ["Geology", "History", "Climbing", "Nature"],
    "person": ["Early life", "Career", "Later life", "Legacy"],
    "species": ["Description", "Distribution", "Behaviour", "Conservation"],
    "building": ["History", "Architecture", "Use"],
    "craft": ["History", "Technique", "Present day"],
    "commerce": ["History", "Online trade", "Research"],
    "everyday": ["Overview", "Practice", "Research"],
    "spam": ["Methods", "Keywords", "Countermeasures"],
}

TITLE_SUFFIX = {
    "town": "", "river": " (river)", "mountain": " (mountain)", "person": "", "species": "",
    "building": " Abbey", "craft": " weaving", "commerce": "", "everyday": "", "spam": "",
}  # fmt: skip

SPAM_TITLES = ["Spamdexing", "Keyword stuffing", "Link farm"]
EVERYDAY_TITLES = [
    "Online shopping",
    "Internet forum",
    "Customer service",
    "Travel forum",
    "Guided tour",
    "Internet slang",
    "Handmade goods",
]
# Short English function words: spam and salad mix them in, as real junk pages do.
FUNCTION_WORDS = [
    "the",
    "of",
    "and",
    "in",
    "to",
    "for",
    "with",
    "on",
    "at",
    "by",
    "from",
    "is",
    "was",
    "your",
    "our",
]

# Fluent but commercial or chatty web text: English that Wikipedia would never cite.
SHOP = [
    "Buy our handmade {craft} set from {Place} today and get free shipping on all orders over {price} dollars.",
    "This {colour} {goods_sing} is made of {material} by a small workshop in {Place}, order now before it sells out.",
    "Add the {goods_sing} to your cart and use the code SAVE{small} at checkout to get a discount.",
    "We ship to all states and most orders arrive within {small} business days.",
    "Not happy with your order? Just send it back within thirty days for a full refund.",
    "Our guided tour of the old {building} in {Place} costs {price} dollars and includes a free drink.",
    "Sign in to your account to track your order and see your rewards points.",
    "Customers who bought this {goods_sing} also bought a book about the history of {Place}.",
    "Hurry, the summer sale ends on Sunday and prices go back up next week.",
    "Call our friendly team today and we will help you choose the right {goods_sing} for your home.",
    "Great value for money, and the {goods_sing} looks even better than in the pictures.",
    "Join our club and save ten percent on your first order with {Brand}.",
    "Book your stay in the centre of {Place} now and get a free tour of the {building}.",
    "Every {goods_sing} in our shop is made by hand using traditional {craft} from the {region}.",
]
FORUM = [
    "Hey everyone, I just got back from {Place} and honestly the old {building} was amazing.",
    "Does anyone know if the {goods_sing} from {Brand} is worth the money or should I wait?",
    "Lol same here, mine broke after two weeks and support never answered my emails.",
    "Thanks for the tip, I will try that tonight and let you know how it goes.",
    "Honestly I think you are overthinking it, just get the cheaper one and be happy.",
    "Anyone else going to the {event} in {Place} next {month}? I can bring snacks if you want.",
    "My brother went to {Place} last summer and he says the {building} is totally worth a visit.",
    "Ok so update: I returned it and got the {colour} one instead, way better.",
    "Haha that made my day, thanks guys, you are the best.",
    "I am not sure about that, but my friend said the shop near the {building} has it on sale.",
    "Sorry for the late reply, work has been crazy this week.",
    "Can someone post a picture of the {building}? I want to see how big it actually is.",
    "We stayed two nights in {Place} and the food was great, but the hotel was a bit noisy.",
    "Has anyone here tried {craft} before? I want to learn it but I have no idea where to start.",
]
GOODS_SING = [
    "coffee grinder",
    "desk lamp",
    "backpack",
    "camera",
    "blender",
    "office chair",
    "phone case",
    "rain jacket",
    "water bottle",
    "bicycle helmet",
    "tea kettle",
    "garden hose",
    "keyboard",
]
BRANDS = ["Northwind", "Bluecrest", "Happy Home", "MegaMart", "Shopster", "Urban Nest", "Pixelworks"]

# Keyword spam vocabulary: what SEO pages repeat.
SPAM_KEYWORDS = [
    "cheap", "replica", "watches", "pills", "casino", "poker", "slots", "bonus", "jackpot", "payday",
    "loans", "bitcoin", "download", "free", "online", "best", "deals", "discount", "coupon", "sale",
    "shoes", "bags", "jerseys", "followers", "likes", "weight", "loss", "diet", "dating", "singles",
    "hot", "win", "cash", "fast", "now", "click", "here", "buy", "price", "top", "rated", "review",
    "store", "outlet", "wholesale", "insurance", "quote", "hotels", "flights", "money", "credit", "cards",
]  # fmt: skip

# Everyday English words the encyclopedic grammar never uses: word salad draws from these as well as
# from the grammar's own words, so salad is both out of order and out of domain.
EVERYDAY = """
apple banana basket blanket bottle breakfast butter button candle carpet ceiling cheese chicken
chimney cloud coat collar cookie cotton cousin cupboard curtain cushion daisy dinner doctor donkey
drawer dress elbow engine envelope feather finger flag floor fork garage ghost giraffe glove goat
guitar hammer helmet honey hospital jelly kitten knee ladder lemon letter magnet mirror monkey
mustard napkin needle noodle orange oven paddle pajamas parrot peach pencil penguin pepper pickle
pillow pirate pizza planet pocket potato puddle pumpkin puppet rabbit radio rocket sandwich saucer
scissors shampoo sock sofa spoon squirrel stamp sugar suitcase sweater teapot ticket tiger toast
toaster tomato toothbrush towel tractor trumpet turtle umbrella vacuum violin wallet whistle zebra
borrow giggle hurry juggle knit laugh mumble nibble paint punch scribble sneeze snore sparkle
squeeze tickle tumble wander whisper wiggle yawn zip bounce crumble dance dream fetch float
grumpy fluffy sleepy shiny sticky silly noisy tiny soggy crunchy curly dizzy fancy fuzzy greedy
happy hungry itchy jolly lazy lucky messy muddy nervous polite rusty salty sandy scary slimy
smelly spicy stormy sweaty tasty thirsty wobbly yummy zesty brave clumsy cranky eager gloomy
maybe almost always never often quickly slowly softly loudly suddenly together tomorrow yesterday
""".split()
