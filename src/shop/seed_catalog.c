/* seed_catalog.c — the words and shapes of the demo catalogue.
 *
 * Nothing here runs: it is the data seed.c draws from. Each subcategory
 * lists a few name bases (mixing French and English, as a French shop
 * does), optional variants appended to the name (capacities, sizes, book
 * titles), a median price and the kind of attributes its products carry.
 * Bundle templates name subcategories that go together in one basket; the
 * generator turns each into concrete product bundles, which is what gives
 * the order history a co-purchase structure recommendations can learn.
 *
 * Editing rule: slugs are unique and stable (they key categories in an
 * existing database when seeding with --append). */
#include "shop/seed_catalog.h"

#include <stddef.h>

#define S(...) ((const char *const[]){__VA_ARGS__, NULL})
#define SUBS(...) ((const seed_subcategory[]){__VA_ARGS__})
#define NSUBS(...) (int)(sizeof((const seed_subcategory[]){__VA_ARGS__}) / sizeof(seed_subcategory))
#define CATEGORY(name, slug, brands, pitches, ...)                                                 \
    {                                                                                              \
        name, slug, brands, pitches, SUBS(__VA_ARGS__), NSUBS(__VA_ARGS__)                         \
    }

const seed_category seed_categories[] = {
    CATEGORY("Électronique / Electronics", "electronique",
             S("Sonora", "Voltix", "Nexa", "Audiora", "Kairo", "Lumio"),
             S("Conçu pour un usage quotidien intensif, il allie performances et autonomie.",
               "Compatible avec la plupart des appareils Android et iOS.",
               "Designed for everyday use, with a battery that lasts all day.",
               "Mises à jour logicielles garanties pendant trois ans."),
             {"Smartphones", "smartphones",
              S("Smartphone", "Smartphone 5G", "Smartphone double SIM", "Unlocked smartphone"),
              S("64 Go", "128 Go", "256 Go", "512 Go"), 39900, SEED_ATTR_STORAGE},
             {"Coques & protections", "coques",
              S("Coque silicone", "Coque transparente antichoc",
                "Protection d'écran en verre trempé", "Phone case with MagSafe"),
              NULL, 1999, SEED_ATTR_COLOR},
             {"Chargeurs & câbles", "chargeurs",
              S("Chargeur rapide USB-C 30 W", "Câble USB-C tressé 2 m", "Wireless charging pad",
                "Batterie externe 10 000 mAh"),
              NULL, 2499, SEED_ATTR_COLOR},
             {"Casques & écouteurs", "audio",
              S("Casque audio sans fil Bluetooth", "Écouteurs true wireless à réduction de bruit",
                "Noise-cancelling over-ear headphones", "Écouteurs de sport"),
              NULL, 7999, SEED_ATTR_COLOR},
             {"Ordinateurs portables", "ordinateurs-portables",
              S("Ordinateur portable 14\"", "Ultrabook 13\"", "Gaming laptop 15.6\""),
              S("8 Go RAM / 256 Go SSD", "16 Go RAM / 512 Go SSD", "32 Go RAM / 1 To SSD"), 89900,
              SEED_ATTR_STORAGE},
             {"Accessoires informatiques", "accessoires-informatique",
              S("Souris sans fil ergonomique", "Clavier mécanique AZERTY",
                "Sacoche pour ordinateur 15\"", "USB-C hub 7-in-1"),
              NULL, 3499, SEED_ATTR_COLOR}),
    CATEGORY("Maison & Cuisine", "maison-cuisine",
             S("Maison Duval", "Cuisinella", "Kaffa", "Ardoise", "Lina Home"),
             S("Pensé pour la cuisine de tous les jours, il passe au lave-vaisselle.",
               "Des matériaux durables choisis pour durer des années.",
               "A timeless design that fits any kitchen.",
               "Fabriqué en Europe dans le respect des normes alimentaires."),
             {"Cafetières & machines à café", "cafetieres",
              S("Cafetière à piston", "Machine à expresso 15 bars", "Cafetière filtre programmable",
                "Pour-over coffee dripper"),
              S("0,35 L", "1 L", "1,5 L"), 5999, SEED_ATTR_CAPACITY},
             {"Café & thé", "cafe-the",
              S("Café en grains Arabica", "Café moulu pur origine Éthiopie", "Thé vert Sencha bio",
                "Capsules compatibles espresso (x50)", "Earl Grey loose leaf tea"),
              S("250 g", "500 g", "1 kg"), 1299, SEED_ATTR_WEIGHT},
             {"Tasses & mugs", "mugs",
              S("Mug en céramique 350 ml", "Lot de 4 tasses à expresso", "Double-wall glass mug",
                "Mug isotherme inox"),
              NULL, 1499, SEED_ATTR_COLOR},
             {"Ustensiles de cuisine", "ustensiles",
              S("Poêle antiadhésive 28 cm", "Couteau de chef 20 cm", "Planche à découper en bambou",
                "Set of silicone spatulas", "Cocotte en fonte 24 cm"),
              NULL, 2999, SEED_ATTR_NONE},
             {"Linge de maison", "linge-maison",
              S("Parure de lit en coton lavé", "Serviettes de bain (lot de 2)", "Plaid en laine",
                "Linen tablecloth"),
              NULL, 3999, SEED_ATTR_COLOR}),
    CATEGORY(
        "Vêtements / Clothing", "vetements",
        S("Atelier Nord", "Maille & Co", "Urbano", "Solenne", "Brume"),
        S("Une coupe moderne et confortable, pensée pour bouger.",
          "Tissu certifié OEKO-TEX, lavable en machine à 30 °C.",
          "Made from organic cotton grown without pesticides.",
          "Le modèle mesure 1,80 m et porte une taille M."),
        {"T-shirts & hauts", "t-shirts",
         S("T-shirt en coton bio", "Chemise en lin", "Crew-neck T-shirt",
           "Pull col rond en mérinos"),
         NULL, 2499, SEED_ATTR_COLOR_SIZE},
        {"Pantalons & jeans", "pantalons",
         S("Jean coupe droite", "Pantalon chino", "Jogging en molleton", "Slim fit jeans"), NULL,
         4999, SEED_ATTR_COLOR_SIZE},
        {"Vestes & manteaux", "vestes",
         S("Veste imperméable respirante", "Doudoune légère", "Rain jacket", "Manteau en laine"),
         NULL, 8999, SEED_ATTR_COLOR_SIZE},
        {"Chaussettes & sous-vêtements", "chaussettes",
         S("Chaussettes en laine mérinos (lot de 3)", "Boxer en coton (lot de 3)", "Hiking socks"),
         NULL, 1499, SEED_ATTR_COLOR_SIZE}),
    CATEGORY(
        "Chaussures / Shoes", "chaussures", S("Pas Léger", "Trekka", "Courant", "Semelle"),
        S("Semelle amortissante et maintien de la cheville.",
          "Cuir pleine fleur traité pour résister à l'eau.",
          "Lightweight and breathable for long days on your feet."),
        {"Chaussures de randonnée", "chaussures-randonnee",
         S("Chaussures de randonnée imperméables", "Hiking boots Gore-Tex", "Chaussures de trail"),
         NULL, 10999, SEED_ATTR_SHOE},
        {"Baskets", "baskets", S("Baskets en cuir blanc", "Running shoes", "Sneakers en toile"),
         NULL, 7999, SEED_ATTR_SHOE},
        {"Entretien des chaussures", "entretien-chaussures",
         S("Spray imperméabilisant", "Kit de cirage", "Semelles orthopédiques"), NULL, 999,
         SEED_ATTR_NONE}),
    CATEGORY(
        "Sport & Plein air", "sport-plein-air",
        S("Altitude", "Bivouac", "Sentier", "Ridge", "Kalon"),
        S("Testé en conditions réelles en montagne.",
          "Compact et léger, il se glisse facilement dans un sac.",
          "Built to withstand wind, rain and rough terrain."),
        {"Tentes", "tentes",
         S("Tente dôme 2 places", "Tente familiale 4 places", "Ultralight backpacking tent"), NULL,
         14999, SEED_ATTR_WEIGHT},
        {"Sacs de couchage", "sacs-couchage",
         S("Sac de couchage 0 °C", "Sac de couchage en duvet -5 °C", "Summer sleeping bag"), NULL,
         7999, SEED_ATTR_WEIGHT},
        {"Lampes & éclairage", "lampes",
         S("Lampe frontale LED 400 lumens", "Lanterne de camping rechargeable", "Headlamp USB-C"),
         NULL, 2999, SEED_ATTR_COLOR},
        {"Sacs à dos", "sacs-a-dos",
         S("Sac à dos de randonnée", "Sac à dos avec housse de pluie", "Daypack"),
         S("20 L", "30 L", "50 L"), 6999, SEED_ATTR_CAPACITY},
        {"Fitness", "fitness",
         S("Tapis de yoga antidérapant", "Haltères réglables 2 × 10 kg", "Resistance bands set",
           "Gourde inox 750 ml"),
         NULL, 2999, SEED_ATTR_COLOR}),
    CATEGORY(
        "Livres / Books", "livres",
        S("Éditions du Phare", "Galaxie Poche", "Blue Ink Press", "Éditions Lumen"),
        S("Un texte salué par la critique, traduit dans douze langues.",
          "Une lecture passionnante du début à la fin.",
          "A must-read, now in a new revised edition."),
        {"Romans", "romans",
         S("Roman policier", "Roman historique", "Science-fiction novel", "Recueil de nouvelles"),
         S("« Les Ombres du port »", "« L'Été des cendres »", "« Le Dernier Phare »",
           "\"The Glass Orchard\"", "« Nuit blanche à Lisbonne »", "\"Northern Lights\""),
         1690, SEED_ATTR_PAGES},
        {"Cuisine & gastronomie", "livres-cuisine",
         S("Livre de recettes végétariennes", "Le grand livre de la pâtisserie",
           "Baking bread at home"),
         NULL, 2490, SEED_ATTR_PAGES},
        {"Informatique", "livres-informatique",
         S("Apprendre le C moderne", "Systems programming in practice",
           "Bases de données : le guide"),
         NULL, 3990, SEED_ATTR_PAGES}),
    CATEGORY("Beauté / Beauty", "beaute", S("Éclat", "Nuance", "Aurore", "Verdi Botanics"),
             S("Formule vegan, testée sous contrôle dermatologique.",
               "Des ingrédients d'origine naturelle à 95 %.",
               "Suitable for all skin types, fragrance-free option available."),
             {"Soins du visage", "soins-visage",
              S("Crème hydratante visage", "Sérum à la vitamine C", "Gentle foaming cleanser"),
              NULL, 2499, SEED_ATTR_VOLUME},
             {"Parfums", "parfums", S("Eau de parfum", "Eau de toilette fraîche", "Cologne"), NULL,
              5999, SEED_ATTR_VOLUME},
             {"Cheveux", "cheveux",
              S("Shampooing solide", "Après-shampooing réparateur", "Sèche-cheveux ionique 2000 W"),
              NULL, 1499, SEED_ATTR_VOLUME}),
    CATEGORY(
        "Jouets & Jeux / Toys", "jouets", S("Ludika", "Petit Génie", "BrickBox", "Meeple & Co"),
        S("Des heures de jeu en famille ou entre amis.",
          "Conforme aux normes de sécurité européennes EN 71.",
          "Encourages creativity, logic and teamwork."),
        {"Jeux de société", "jeux-societe",
         S("Jeu de société coopératif", "Jeu de cartes familial", "Strategy board game"), NULL,
         2999, SEED_ATTR_AGE},
        {"Construction", "construction",
         S("Set de construction 500 pièces", "Circuit à billes", "Building blocks starter kit"),
         NULL, 3999, SEED_ATTR_AGE},
        {"Puzzles", "puzzles", S("Puzzle 1000 pièces paysage", "Puzzle 3D monument"), NULL, 1999,
         SEED_ATTR_AGE}),
    CATEGORY(
        "Jardin & Bricolage", "jardin-bricolage", S("Vertige", "OutilPro", "Racine", "Forgex"),
        S("Robuste et précis, pour les bricoleurs exigeants.",
          "Garantie pièces et main-d'œuvre de trois ans.",
          "Weather-resistant materials for years outdoors."),
        {"Outillage", "outillage",
         S("Perceuse-visseuse sans fil 18 V", "Coffret d'embouts 32 pièces", "Mètre ruban 5 m"),
         NULL, 4999, SEED_ATTR_NONE},
        {"Jardinage", "jardinage",
         S("Sécateur de précision", "Tuyau d'arrosage 25 m", "Gants de jardinage"), NULL, 1999,
         SEED_ATTR_NONE},
        {"Mobilier de jardin", "mobilier-jardin",
         S("Chaise pliante en acacia", "Parasol déporté 3 m", "Hamac en coton"), NULL, 8999,
         SEED_ATTR_COLOR}),
    CATEGORY(
        "Animalerie / Pets", "animalerie", S("Croqui", "Patoune", "Félin", "Ronron"),
        S("Recommandé par les vétérinaires.", "Sans colorants ni conservateurs artificiels.",
          "Your pet will love it, or your money back."),
        {"Chiens", "chiens",
         S("Croquettes chien adulte 12 kg", "Laisse réglable", "Panier pour chien", "Dog chew toy"),
         NULL, 3499, SEED_ATTR_NONE},
        {"Chats", "chats",
         S("Croquettes chat stérilisé 4 kg", "Arbre à chat", "Litière agglomérante 10 L"), NULL,
         2499, SEED_ATTR_NONE}),
    CATEGORY("Bébé & Puériculture", "bebe", S("Doudou", "Petit Pas", "Nido"),
             S("Testé et approuvé par des parents.", "Sans BPA ni phtalates.",
               "Soft, safe and easy to clean."),
             {"Couches & toilette", "couches",
              S("Couches taille 3 (x52)", "Lingettes à l'eau (lot de 12)", "Baby bath thermometer"),
              NULL, 1999, SEED_ATTR_NONE},
             {"Poussettes & sièges auto", "poussettes",
              S("Poussette compacte", "Siège auto groupe 0+/1", "Travel stroller"), NULL, 24999,
              SEED_ATTR_COLOR},
             {"Éveil", "eveil", S("Tapis d'éveil", "Hochet en bois", "Soft plush toy"), NULL, 2499,
              SEED_ATTR_AGE}),
    CATEGORY("Épicerie fine / Gourmet food", "epicerie",
             S("Terroirs", "Maison Cacao", "Olea", "Ruche d'Or"),
             S("Sélectionné auprès de petits producteurs.", "Issu de l'agriculture biologique.",
               "Small-batch, full of flavour."),
             {"Chocolat & confiseries", "chocolat",
              S("Tablette de chocolat noir 70 %", "Coffret de pralinés", "Caramels au beurre salé"),
              NULL, 899, SEED_ATTR_WEIGHT},
             {"Huiles & condiments", "huiles",
              S("Huile d'olive vierge extra 75 cl", "Vinaigre balsamique de Modène",
                "Fleur de sel de Guérande"),
              NULL, 1299, SEED_ATTR_WEIGHT},
             {"Miel & confitures", "miel",
              S("Miel de lavande 500 g", "Confiture d'abricots", "Pâte à tartiner noisette"), NULL,
              799, SEED_ATTR_WEIGHT}),
};
const int seed_category_count = (int)(sizeof seed_categories / sizeof seed_categories[0]);

const seed_bundle_template seed_bundle_templates[] = {
    {{"smartphones", "coques", "chargeurs", NULL}},
    {{"smartphones", "audio", "chargeurs", NULL}},
    {{"ordinateurs-portables", "accessoires-informatique", "chargeurs", NULL}},
    {{"livres-informatique", "accessoires-informatique", NULL}},
    {{"cafetieres", "cafe-the", "mugs", NULL}},
    {{"cafe-the", "mugs", "chocolat", NULL}},
    {{"ustensiles", "huiles", "livres-cuisine", NULL}},
    {{"linge-maison", "mugs", NULL}},
    {{"tentes", "sacs-couchage", "lampes", NULL}},
    {{"sacs-a-dos", "lampes", "chaussures-randonnee", NULL}},
    {{"chaussures-randonnee", "chaussettes", "entretien-chaussures", NULL}},
    {{"vestes", "chaussures-randonnee", "sacs-a-dos", NULL}},
    {{"t-shirts", "pantalons", "chaussettes", NULL}},
    {{"fitness", "t-shirts", "baskets", NULL}},
    {{"soins-visage", "cheveux", "parfums", NULL}},
    {{"jeux-societe", "puzzles", NULL}},
    {{"construction", "jeux-societe", NULL}},
    {{"outillage", "jardinage", NULL}},
    {{"mobilier-jardin", "jardinage", NULL}},
    {{"chiens", "chiens", NULL}},
    {{"chats", "chats", NULL}},
    {{"couches", "eveil", "poussettes", NULL}},
    {{"huiles", "miel", "chocolat", NULL}},
    {{"romans", "cafe-the", NULL}},
};
const int seed_bundle_template_count =
    (int)(sizeof seed_bundle_templates / sizeof seed_bundle_templates[0]);

const char *const seed_generic_sentences[] = {
    "Livraison offerte dès 35 € d'achat.",
    "Expédié sous 24 h depuis notre entrepôt de Lyon.",
    "Retours gratuits pendant 30 jours.",
    "Garantie légale de conformité de 2 ans.",
    "Idéal pour offrir.",
    "Free returns within 30 days.",
    "Ships within one business day.",
    "Emballage recyclable et sans plastique.",
    NULL,
};

const char *const seed_models[] = {"Pro", "Lite",      "Max",     "Air",  "Mini", "S",   "2", "3",
                                   "X",   "Évolution", "Classic", "Plus", "One",  "Neo", NULL};

const char *const seed_colors[] = {
    "noir",  "blanc",       "bleu marine",    "rouge", "vert sapin", "gris anthracite",
    "beige", "rose poudré", "jaune moutarde", NULL};

const char *const seed_materials[] = {"acier inoxydable",  "bois",  "coton", "aluminium",
                                      "plastique recyclé", "fonte", NULL};

const seed_name seed_first_names[] = {
    {"Léa", "lea"},         {"Zoé", "zoe"},           {"Hélène", "helene"},
    {"Gaël", "gael"},       {"Chloé", "chloe"},       {"Jérôme", "jerome"},
    {"Camille", "camille"}, {"Lucas", "lucas"},       {"Inès", "ines"},
    {"Noé", "noe"},         {"Manon", "manon"},       {"Hugo", "hugo"},
    {"Élodie", "elodie"},   {"François", "francois"}, {"Amélie", "amelie"},
    {"Théo", "theo"},       {"Sarah", "sarah"},       {"Mathis", "mathis"},
    {"Anaïs", "anais"},     {"Benoît", "benoit"},     {"Julie", "julie"},
    {"Thomas", "thomas"},   {"Maëlle", "maelle"},     {"Raphaël", "raphael"},
    {"Emma", "emma"},       {"Nathan", "nathan"},     {"Clémence", "clemence"},
    {"Louis", "louis"},     {"Océane", "oceane"},     {"Adrien", "adrien"},
    {"Sofia", "sofia"},     {"Karim", "karim"},       {"Mei", "mei"},
    {"Oliver", "oliver"},   {"Aïcha", "aicha"},       {"Yanis", "yanis"},
};
const int seed_first_name_count = (int)(sizeof seed_first_names / sizeof seed_first_names[0]);

const seed_name seed_last_names[] = {
    {"Martin", "martin"},    {"Bernard", "bernard"},   {"Dubois", "dubois"},
    {"Lefèvre", "lefevre"},  {"Moreau", "moreau"},     {"Laurent", "laurent"},
    {"Girard", "girard"},    {"Rousseau", "rousseau"}, {"Mercier", "mercier"},
    {"Faure", "faure"},      {"Bonnet", "bonnet"},     {"François", "francois"},
    {"Légaré", "legare"},    {"Gauthier", "gauthier"}, {"Chevalier", "chevalier"},
    {"Benoît", "benoit"},    {"Lemaître", "lemaitre"}, {"Perrin", "perrin"},
    {"Caron", "caron"},      {"Noël", "noel"},         {"Hébert", "hebert"},
    {"Da Silva", "dasilva"}, {"Nguyen", "nguyen"},     {"Benali", "benali"},
    {"Smith", "smith"},      {"Garcia", "garcia"},     {"Müller", "muller"},
    {"Rossi", "rossi"},      {"Dupré", "dupre"},       {"Fontaine", "fontaine"},
};
const int seed_last_name_count = (int)(sizeof seed_last_names / sizeof seed_last_names[0]);

int seed_count_strings(const char *const *table)
{
    int n = 0;
    while (table && table[n])
        n++;
    return n;
}
